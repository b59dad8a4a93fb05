"""A synthetic population and its furnisher files, for the demo, tests and benchmarks.

Deterministic under a seed; every resident ID passes python-stdnum; default depends on the
person's features, so a scorecard trained on the records can learn it.
"""

from zhengxin.synth.files import write_files
from zhengxin.synth.population import COLUMNS, LENDERS, PLATFORMS, Organisation, Population, generate

__all__ = ["COLUMNS", "LENDERS", "PLATFORMS", "Organisation", "Population", "generate", "write_files"]
