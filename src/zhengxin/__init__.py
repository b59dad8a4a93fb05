"""zhengxin: a supervised personal-credit data exchange."""

__version__ = "0.1.0"
