"""nomadlab: explore a HashiCorp Nomad cluster from Jupyter.

Heavy layers load on first use, so ``import nomadlab`` stays cheap.
"""

from __future__ import annotations

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
