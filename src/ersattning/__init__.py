"""ersattning: pays Swedish primary care the way Region Stockholm's vårdval does.

The chain, one package per stage: register (GVR) → products (ERSMO) → pricing (HEJ) →
statements (VF), with trace (AF), analysis and synth beside it. See README.md.
"""

__version__ = "0.1.0"
