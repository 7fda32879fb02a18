-- sluice source schema, part 2: warehouses and inventory (the current stock snapshot).
-- quantity, capacity and last_updated may be NULL: the analytics define what NULL means.

CREATE TABLE IF NOT EXISTS warehouses (
    warehouse_id INT UNSIGNED NOT NULL PRIMARY KEY,
    name         VARCHAR(100) NULL,
    city         VARCHAR(100) NULL,
    region       VARCHAR(64)  NULL,
    country      CHAR(2)      NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS inventory (
    inventory_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    product_id   INT UNSIGNED    NOT NULL,
    warehouse_id INT UNSIGNED    NOT NULL,
    quantity     INT             NULL,
    capacity     INT             NULL,
    last_updated DATETIME        NULL,
    UNIQUE KEY uq_inventory_product_warehouse (product_id, warehouse_id),
    KEY idx_inventory_warehouse (warehouse_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
