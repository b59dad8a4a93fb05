"""The data catalog: record types and fields with grade, PI flags, retention and purposes.

Pure: loaded from a versioned TOML file in the package (or one named by
ZHENGXIN_CATALOG_PATH) and validated at start. Intake reads it to decide what to accept.
"""

from zhengxin.catalog.model import (
    CATALOG_NAME,
    AuthorizationScope,
    Catalog,
    Constraint,
    FieldSpec,
    Purpose,
    RecordType,
    RecordTypeName,
    catalog_name,
    load_catalog,
)

__all__ = [
    "CATALOG_NAME",
    "AuthorizationScope",
    "Catalog",
    "Constraint",
    "FieldSpec",
    "Purpose",
    "RecordType",
    "RecordTypeName",
    "catalog_name",
    "load_catalog",
]
