"""The lake: Parquet snapshots of the store for analytics (Ibis on DuckDB or Spark), tokens only.

`zhengxin lake export --out DIR` writes the tables of `layout.TABLES`, Hive-partitioned by
month, incrementally: append-only tables gain a part file per run past their watermark,
tables whose rows change get the months that changed rewritten. DIR/_lake.json keeps the
state between runs and is what marks a directory as a lake.
"""
