"""The sample catalog: what ``shop.main:app`` starts with, so that the docs page, the latency
budgets and the load run have items to show (item 1 is the id the schema gives as example)."""

# (name, price, units in stock): a hardware store's bulk lines and a few tools.
SAMPLE_CATALOG: tuple[tuple[str, float, int], ...] = (
    ("Hex bolt M6x40", 0.12, 500_000),
    ("Washer M6", 0.03, 800_000),
    ("Wood screw 4x30", 0.05, 650_000),
    ("Cable tie 200 mm", 0.08, 400_000),
    ("Nitrile gloves (pair)", 0.45, 120_000),
    ("Cordless drill", 89.0, 40),
    ("Workbench", 249.0, 6),
)
