-- sluice source schema, part 1: customers, products, orders, order_items.
-- InnoDB, utf8mb4. Safe to run again (IF NOT EXISTS).

CREATE TABLE IF NOT EXISTS customers (
    customer_id  INT UNSIGNED NOT NULL PRIMARY KEY,
    first_name   VARCHAR(64)  NULL,
    last_name    VARCHAR(64)  NULL,
    email        VARCHAR(255) NULL,
    country      CHAR(2)      NULL,
    created_at   DATETIME     NULL,
    KEY idx_customers_country (country)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS products (
    product_id   INT UNSIGNED NOT NULL PRIMARY KEY,
    sku          VARCHAR(32)  NULL,
    name         VARCHAR(255) NULL,
    category     VARCHAR(64)  NULL,
    price        DECIMAL(10,2) NULL,
    created_at   DATETIME     NULL,
    UNIQUE KEY uq_products_sku (sku),
    KEY idx_products_category (category)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS orders (
    order_id     BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    customer_id  INT UNSIGNED    NOT NULL,
    order_date   DATETIME        NOT NULL,
    total_amount DECIMAL(12,2)   NOT NULL,
    status       ENUM('pending','paid','shipped','delivered','cancelled','returned') NOT NULL,
    KEY idx_orders_customer (customer_id),
    KEY idx_orders_date (order_date)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS order_items (
    order_item_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    order_id      BIGINT UNSIGNED NOT NULL,
    product_id    INT UNSIGNED    NOT NULL,
    quantity      INT             NOT NULL,
    unit_price    DECIMAL(10,2)   NOT NULL,
    KEY idx_order_items_order (order_id),
    KEY idx_order_items_product (product_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
