-- Demo catalog for local runs and tests. Production catalogs are loaded by their owners.
INSERT INTO catalog_items (sku, name, unit_price_cents, max_quantity, active) VALUES
    ('COFFEE-BEANS-1KG', 'Single-origin coffee beans, 1 kg', 2450, 20, TRUE),
    ('FILTER-PAPER-100', 'Paper filters, pack of 100', 499, 50, TRUE),
    ('MUG-CERAMIC-350ML', 'Ceramic mug, 350 ml', 1200, 12, TRUE),
    ('GRINDER-BURR', 'Burr grinder', 8900, 2, TRUE),
    ('KETTLE-GOOSENECK', 'Gooseneck kettle', 6400, 3, TRUE),
    ('SCALE-01G', 'Brewing scale, 0.1 g', 3500, 5, TRUE),
    ('DECAF-BEANS-1KG', 'Decaf beans, 1 kg (discontinued)', 2300, 20, FALSE)
ON DUPLICATE KEY UPDATE name = VALUES(name), unit_price_cents = VALUES(unit_price_cents),
    max_quantity = VALUES(max_quantity), active = VALUES(active);
