/* seed_gen.c - the row generators of `sluice seed`. Each row draws from its own
 * random stream, keyed by (seed, table, id) through splitmix64, and uses integer
 * arithmetic only, so output is identical on every machine and build. The shapes
 * (skewed buyers, daily hour profile, inventory edge cases) are described in README. */
#include "seed.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../common/sl_time.h"

#define DAY_US (86400LL * 1000000LL)
#define SEC_US 1000000LL

/* ---- random streams ---------------------------------------------------- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Tags keep the streams of different purposes apart. */
enum { TAG_WH = 1, TAG_PROD, TAG_PRICE, TAG_CUST, TAG_CGROUP, TAG_INV, TAG_ORDER };

static rng stream(uint64_t seed, uint64_t tag, uint64_t id)
{
    uint64_t s = seed ^ (tag * 0xD1B54A32D192ED03ULL);
    rng r;
    (void)splitmix(&s);
    s ^= id * 0x9E3779B97F4A7C15ULL;
    r.s = splitmix(&s);
    return r;
}

static uint64_t next(rng *r) { return splitmix(&r->s); }
/* Uniform in [0, n): the modulo bias is below 2^-40 for the sizes used here. */
static uint64_t below(rng *r, uint64_t n) { return n ? next(r) % n : 0; }

/* Index drawn with integer weights. */
static int weighted(rng *r, const unsigned *w, int n)
{
    unsigned total = 0, x;
    for (int i = 0; i < n; i++) total += w[i];
    x = (unsigned)below(r, total);
    for (int i = 0; i < n; i++) {
        if (x < w[i]) return i;
        x -= w[i];
    }
    return n - 1;
}

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- vocabularies ------------------------------------------------------ */

static const char *const first_names[] = {
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Emma", "Mark", "Olivia",
    "Paul", "Sophie", "Lukas", "Hannah", "Mateo", "Lucia", "Noah", "Mia", "Liam", "Chloe",
    /* multibyte UTF-8 */
    "José", "Zoë", "Søren", "Łukasz", "Ünal", "François", "Małgorzata", "Çağla", "Ιωάννης", "Юлия",
    "陽菜", "Nguyễn"};
static const char *const last_names[] = {
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson",
    "Martin", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis", "Walker", "Young", "King",
    "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell", "Roberts",
    /* multibyte UTF-8 */
    "Müller", "Núñez", "Øster", "Dvořák", "Şahin", "Björk", "Gonçalves", "Παπαδόπουλος", "Иванов",
    "佐藤", "Trần"};
static const char *const countries[] = {"US", "GB", "DE", "FR", "ES", "IT", "NL", "PL", "SE", "BR",
                                        "CA", "JP", "IN", "AU", "MX", "TR"};
static const unsigned country_w[] = {30, 10, 10, 8, 6, 6, 4, 4, 3, 5, 4, 3, 3, 2, 1, 1};
static const char *const categories[] = {"Electronics", "Books", "Home & Kitchen", "Garden",
                                         "Toys", "Sports", "Clothing", "Beauty", "Grocery",
                                         "Automotive", "Office", "Pet Supplies"};
static const char *const adjectives[] = {"Classic", "Compact", "Deluxe", "Eco", "Smart", "Ultra",
                                         "Pro", "Mini", "Vintage", "Rugged", "Crème", "Señor",
                                         "Nordic", "Zen"};
static const char *const nouns[] = {"Lamp", "Kettle", "Backpack", "Speaker", "Notebook", "Chair",
                                    "Drone", "Blender", "Jacket", "Watch", "Café Grinder", "Tent",
                                    "Headphones", "Puzzle", "Skillet", "Ærø Mug"};
static const struct {
    const char *city, *region, *country;
} sites[] = {
    {"New York", "North America", "US"}, {"Chicago", "North America", "US"},
    {"Dallas", "North America", "US"},   {"Los Angeles", "North America", "US"},
    {"Toronto", "North America", "CA"},  {"Mexico City", "Latin America", "MX"},
    {"São Paulo", "Latin America", "BR"}, {"London", "Europe", "GB"},
    {"Hamburg", "Europe", "DE"},         {"München", "Europe", "DE"},
    {"Paris", "Europe", "FR"},           {"Madrid", "Europe", "ES"},
    {"Milano", "Europe", "IT"},          {"Rotterdam", "Europe", "NL"},
    {"Kraków", "Europe", "PL"},          {"Göteborg", "Europe", "SE"},
    {"Tokyo", "Asia Pacific", "JP"},     {"Mumbai", "Asia Pacific", "IN"},
    {"Sydney", "Asia Pacific", "AU"},    {"İstanbul", "Europe", "TR"}};

/* Orders by hour of day: quiet nights, a lunch bump, busy evenings. */
static const unsigned hour_w[24] = {3, 2, 1, 1, 1, 2, 3, 5, 7, 8, 8, 9,
                                    10, 9, 8, 8, 9, 11, 14, 16, 17, 15, 10, 6};
static const char *const statuses[] = {"pending", "paid", "shipped", "delivered", "cancelled", "returned"};
static const unsigned status_w[] = {4, 8, 12, 64, 8, 4};
static const unsigned items_w[] = {30, 25, 20, 15, 10}; /* 1..5 items: mean 2.5 */
static const unsigned qty_w[] = {50, 25, 12, 8, 5};     /* 1..5 units */

/* ---- sizes ------------------------------------------------------------- */

static uint64_t scaled(double base, double scale, uint64_t at_least)
{
    long long v = llround(base * scale);
    return v < (long long)at_least ? at_least : (uint64_t)v;
}

void seed_counts_compute(const seed_params *p, seed_counts *c)
{
    c->warehouses = scaled(50, p->scale, 20);
    c->products = scaled(10000, p->scale, 50);
    c->customers = scaled(100000, p->scale, 1);
    c->orders = scaled(1000000, p->scale, 0);
}

const char *seed_table_name(seed_table t)
{
    static const char *const names[] = {"warehouses", "products", "customers",
                                        "inventory",  "orders",   "order_items"};
    return t < SEED__COUNT ? names[t] : "?";
}

const char *seed_table_columns(seed_table t)
{
    static const char *const cols[] = {
        "warehouse_id, name, city, region, country",
        "product_id, sku, name, category, price, created_at",
        "customer_id, first_name, last_name, email, country, created_at",
        "inventory_id, product_id, warehouse_id, quantity, capacity, last_updated",
        "order_id, customer_id, order_date, total_amount, status",
        "order_item_id, order_id, product_id, quantity, unit_price"};
    return t < SEED__COUNT ? cols[t] : "";
}

int64_t seed_default_anchor(void)
{
    int64_t now = sl_now_us();
    return now - (now % DAY_US);
}

/* ---- formatting helpers ------------------------------------------------ */

typedef struct out {
    char *p;
    size_t len;
} out;

static void put(out *o, const char *s)
{
    size_t n = strlen(s);
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void putf(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    o->len += (size_t)vsnprintf(o->p + o->len, SEED_MAX_ROW, fmt, ap);
    va_end(ap);
}

static void put_ts(out *o, int64_t ts)
{
    char b[40];
    sl_ts_format(ts - ts % SEC_US, b, sizeof b);
    put(o, b);
}

static void put_cents(out *o, int64_t cents) { putf(o, "%lld.%02lld", (long long)(cents / 100), (long long)(cents % 100)); }

/* ---- per-entity facts, shared between tables --------------------------- */

/* A product's price in cents: most under 50.00, a tail up to 999.99. */
static int64_t product_price(uint64_t seed, uint64_t pid)
{
    rng r = stream(seed, TAG_PRICE, pid);
    uint64_t tier = below(&r, 100);
    if (tier < 60) return 199 + (int64_t)below(&r, 4800);
    if (tier < 90) return 5000 + (int64_t)below(&r, 15000);
    return 20000 + (int64_t)below(&r, 79999);
}

/* Buyer groups: 1% heavy buyers, 40% regular, 45% light (mostly one order), 14% none. */
enum { G_HEAVY, G_REGULAR, G_LIGHT, G_NONE };
static int customer_group(uint64_t seed, uint64_t cid)
{
    rng r = stream(seed, TAG_CGROUP, cid);
    uint64_t g = below(&r, 100);
    return g < 1 ? G_HEAVY : g < 41 ? G_REGULAR : g < 86 ? G_LIGHT : G_NONE;
}

static uint64_t pick_customer(const seed_cursor *cur, rng *r)
{
    /* Share of orders: heavy 30%, regular 65%, light 5%; rejection-sample a customer of
     * the chosen group, with a bounded number of tries for tiny scales. */
    uint64_t n = cur->c.customers, x = below(r, 100);
    int want = x < 30 ? G_HEAVY : x < 95 ? G_REGULAR : G_LIGHT;
    for (int tries = 0; tries < 4000; tries++) {
        uint64_t cid = 1 + below(r, n);
        if (customer_group(cur->p.seed, cid) == want) return cid;
    }
    return 1 + below(r, n);
}

typedef struct order_facts {
    uint64_t customer_id;
    int64_t order_date;
    int status;
    int nitems;
    uint64_t product[5];
    int qty[5];
    int64_t price[5];
    int64_t total;
} order_facts;

static void order_make(const seed_cursor *cur, uint64_t oid, order_facts *f)
{
    rng r = stream(cur->p.seed, TAG_ORDER, oid);
    int64_t anchor = cur->p.anchor_us, day0 = anchor - (anchor % DAY_US);
    uint64_t np = cur->c.products;
    int64_t day = (int64_t)below(&r, 730), ts;
    int hour = weighted(&r, hour_w, 24);
    f->customer_id = pick_customer(cur, &r);
    ts = day0 - (729 - day) * DAY_US + hour * 3600 * SEC_US + (int64_t)below(&r, 3600) * SEC_US;
    if (ts > anchor) ts -= DAY_US;
    f->order_date = ts;
    f->status = weighted(&r, status_w, NELEM(status_w));
    f->nitems = 1 + weighted(&r, items_w, 5);
    f->total = 0;
    for (int i = 0; i < f->nitems; i++) {
        /* Skewed towards low ids: a few best sellers. */
        uint64_t a = below(&r, np), b = below(&r, np);
        f->product[i] = 1 + (a * b) / np;
        f->qty[i] = below(&r, 100) == 0 ? 10 + (int)below(&r, 11) : 1 + weighted(&r, qty_w, 5);
        f->price[i] = product_price(cur->p.seed, f->product[i]);
        f->total += f->price[i] * f->qty[i];
    }
}

/* ---- rows -------------------------------------------------------------- */

static void row_warehouse(seed_cursor *cur, out *o)
{
    uint64_t id = cur->unit;
    int s = (int)((id - 1) % NELEM(sites));
    putf(o, "%llu\t%s DC %llu\t%s\t%s\t%s\n", (unsigned long long)id, sites[s].city,
         (unsigned long long)id, sites[s].city, sites[s].region, sites[s].country);
    cur->rows++;
}

static void row_product(seed_cursor *cur, out *o)
{
    uint64_t id = cur->unit;
    rng r = stream(cur->p.seed, TAG_PROD, id);
    const char *adj = adjectives[below(&r, NELEM(adjectives))], *noun = nouns[below(&r, NELEM(nouns))];
    const char *cat = categories[below(&r, NELEM(categories))];
    int64_t created = cur->p.anchor_us - (int64_t)below(&r, 3 * 365 * 86400ULL) * SEC_US;
    putf(o, "%llu\tSKU-%07llu\t%s %s %llu\t%s\t", (unsigned long long)id, (unsigned long long)id, adj,
         noun, (unsigned long long)id, cat);
    put_cents(o, product_price(cur->p.seed, id));
    put(o, "\t");
    put_ts(o, created);
    put(o, "\n");
    cur->rows++;
}

static void ascii_lower(out *o, const char *s)
{
    for (; *s; s++) o->p[o->len++] = (char)((*s >= 'A' && *s <= 'Z') ? *s + 32 : *s);
}

static int is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80) return 0;
    return 1;
}

static void row_customer(seed_cursor *cur, out *o)
{
    uint64_t id = cur->unit;
    rng r = stream(cur->p.seed, TAG_CUST, id);
    const char *fn = first_names[below(&r, NELEM(first_names))];
    const char *ln = last_names[below(&r, NELEM(last_names))];
    const char *country = countries[weighted(&r, country_w, NELEM(country_w))];
    int64_t created = cur->p.anchor_us - (int64_t)below(&r, 3 * 365 * 86400ULL) * SEC_US;
    putf(o, "%llu\t%s\t%s\t", (unsigned long long)id, fn, ln);
    if (below(&r, 200) == 0) {
        put(o, "\\N"); /* a few customers without an email */
    } else if (is_ascii(fn) && is_ascii(ln)) {
        ascii_lower(o, fn);
        put(o, ".");
        ascii_lower(o, ln);
        putf(o, "%llu@example.com", (unsigned long long)id);
    } else {
        putf(o, "customer%llu@example.com", (unsigned long long)id);
    }
    putf(o, "\t%s\t", country);
    put_ts(o, created);
    put(o, "\n");
    cur->rows++;
}

/* 3-7 distinct warehouses per product (mean 5); stock from empty to above capacity;
 * at low rates capacity 0 or NULL, quantity NULL, last_updated NULL or in the future. */
static void rows_inventory(seed_cursor *cur, out *o)
{
    uint64_t pid = cur->unit, nwh = cur->c.warehouses, chosen[7];
    rng r = stream(cur->p.seed, TAG_INV, pid);
    int k = 3 + (int)below(&r, 5), got = 0;
    if ((uint64_t)k > nwh) k = (int)nwh;
    while (got < k) {
        uint64_t w = 1 + below(&r, nwh);
        int dup = 0;
        for (int i = 0; i < got; i++) dup |= chosen[i] == w;
        if (!dup) chosen[got++] = w;
    }
    for (int i = 0; i < k; i++) {
        uint64_t e = below(&r, 100);
        int64_t cap = e == 0 ? 0 : e == 1 ? -1 : 50 + (int64_t)below(&r, 951);
        uint64_t q = below(&r, 100), u = below(&r, 100);
        putf(o, "%llu\t%llu\t%llu\t", (unsigned long long)cur->next_id++, (unsigned long long)pid,
             (unsigned long long)chosen[i]);
        if (q == 0) put(o, "\\N");
        else if (q < 4) put(o, "0");
        else if (cap <= 0) putf(o, "%llu", (unsigned long long)below(&r, 200));
        else putf(o, "%lld", (long long)below(&r, (uint64_t)(cap * 13 / 10 + 1)));
        put(o, "\t");
        if (cap < 0) put(o, "\\N");
        else putf(o, "%lld", (long long)cap);
        put(o, "\t");
        if (u == 0) put(o, "\\N");
        else if (u == 1) put_ts(o, cur->p.anchor_us + (1 + (int64_t)below(&r, 30 * 86400)) * SEC_US);
        else put_ts(o, cur->p.anchor_us - (int64_t)below(&r, 60 * 86400) * SEC_US);
        put(o, "\n");
        cur->rows++;
    }
}

static void row_order(seed_cursor *cur, out *o)
{
    order_facts f;
    order_make(cur, cur->unit, &f);
    putf(o, "%llu\t%llu\t", (unsigned long long)cur->unit, (unsigned long long)f.customer_id);
    put_ts(o, f.order_date);
    put(o, "\t");
    put_cents(o, f.total);
    putf(o, "\t%s\n", statuses[f.status]);
    cur->rows++;
}

static void rows_order_items(seed_cursor *cur, out *o)
{
    order_facts f;
    order_make(cur, cur->unit, &f);
    for (int i = 0; i < f.nitems; i++) {
        putf(o, "%llu\t%llu\t%llu\t%d\t", (unsigned long long)cur->next_id++, (unsigned long long)cur->unit,
             (unsigned long long)f.product[i], f.qty[i]);
        put_cents(o, f.price[i]);
        put(o, "\n");
        cur->rows++;
    }
}

/* ---- the cursor -------------------------------------------------------- */

void seed_cursor_init(seed_cursor *cur, const seed_params *p, seed_table t)
{
    memset(cur, 0, sizeof *cur);
    cur->p = *p;
    seed_counts_compute(p, &cur->c);
    cur->table = t;
    cur->unit = 1;
    cur->next_id = 1;
    switch (t) {
    case SEED_WAREHOUSES: cur->units = cur->c.warehouses; break;
    case SEED_PRODUCTS:
    case SEED_INVENTORY: cur->units = cur->c.products; break;
    case SEED_CUSTOMERS: cur->units = cur->c.customers; break;
    case SEED_ORDERS:
    case SEED_ORDER_ITEMS: cur->units = cur->c.orders; break;
    default: cur->units = 0; break;
    }
}

size_t seed_cursor_fill(seed_cursor *cur, char *buf, size_t cap)
{
    out o = {buf, 0};
    /* One unit writes at most 7 rows of well under SEED_MAX_ROW / 8 bytes each. */
    while (cur->unit <= cur->units && cap - o.len >= SEED_MAX_ROW) {
        switch (cur->table) {
        case SEED_WAREHOUSES: row_warehouse(cur, &o); break;
        case SEED_PRODUCTS: row_product(cur, &o); break;
        case SEED_CUSTOMERS: row_customer(cur, &o); break;
        case SEED_INVENTORY: rows_inventory(cur, &o); break;
        case SEED_ORDERS: row_order(cur, &o); break;
        case SEED_ORDER_ITEMS: rows_order_items(cur, &o); break;
        default: return 0;
        }
        cur->unit++;
    }
    return o.len;
}
