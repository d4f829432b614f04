"""The AstDB families and keys the dialplan reads, in one place (the simulator, the nurse-call
ring, the demo and the bed-line writer ``telephony/lines/keys.py`` use these; the generated
dialplan in ``asterisk_conf`` reads the same).

- ``bed/<extension>/active``: ``1`` when the bed's line is open (a stay is active);
- ``bed/<extension>/dnd``: ``1`` when the patient asked not to be disturbed (an outside call
  on their number then goes to the switchboard);
- ``bed/<extension>/barring``: the outside-call level (``internal``, ``local``, ...);
- ``bed/<extension>/cidname``: the name staff phones show for the bed's calls;
- ``did/<number>``: the bed extension a direct number rings.
"""

from __future__ import annotations

BED_FAMILY = "bed"
DID_FAMILY = "did"
ACTIVE = "active"
DND = "dnd"
BARRING = "barring"
CIDNAME = "cidname"
ON = "1"


def bed_family(extension: str) -> str:
    """The family of one bed's keys, for ``DBPut``: ``bed/<extension>``."""
    return f"{BED_FAMILY}/{extension}"


def bed_key(extension: str, key: str) -> str:
    """The full key path ``bed/<extension>/<key>``."""
    return f"{BED_FAMILY}/{extension}/{key}"


def did_key(number: str) -> str:
    """The full key path ``did/<number>``."""
    return f"{DID_FAMILY}/{number}"
