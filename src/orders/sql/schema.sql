-- Schema of the orders service's MySQL database (MySQL 8 / Aurora MySQL 3 / MariaDB 10.5+).
-- Idempotent: every statement can run again on an existing database.
CREATE TABLE IF NOT EXISTS catalog_items (
    sku              VARCHAR(64)  NOT NULL PRIMARY KEY,
    name             VARCHAR(200) NOT NULL,
    unit_price_cents INT UNSIGNED NOT NULL,
    max_quantity     INT UNSIGNED NOT NULL DEFAULT 100,
    active           BOOLEAN      NOT NULL DEFAULT TRUE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE IF NOT EXISTS daily_sku_sales (
    sales_date    DATE            NOT NULL,
    sku           VARCHAR(64)     NOT NULL,
    units         BIGINT UNSIGNED NOT NULL,
    revenue_cents BIGINT UNSIGNED NOT NULL,
    order_count   INT UNSIGNED    NOT NULL,
    updated_at    TIMESTAMP       NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    PRIMARY KEY (sales_date, sku)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- Each day shard's totals (src/orders/logic/day_shards.py): a rollup run writes the shards it read, then the
-- day's totals are their sum. Runs over different shards of one day never write the same row.
CREATE TABLE IF NOT EXISTS daily_sku_shard_sales (
    sales_date    DATE              NOT NULL,
    shard         SMALLINT UNSIGNED NOT NULL,
    sku           VARCHAR(64)       NOT NULL,
    units         BIGINT UNSIGNED   NOT NULL,
    revenue_cents BIGINT UNSIGNED   NOT NULL,
    order_count   INT UNSIGNED      NOT NULL,
    PRIMARY KEY (sales_date, shard, sku)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
