"""The two roles on a call, the one definition every module compares speakers with.

A stereo call's channel 0 is the rep's microphone and channel 1 the customer (the far end);
a diarized mono call labels its voices with the same two words. Transcript segments, blocks
and talk time store them as plain strings.
"""

from __future__ import annotations

from typing import Final

REP: Final = "rep"
CUSTOMER: Final = "customer"
# by stereo channel: index 0 the rep's mic, 1 the customer
ROLES: Final = (REP, CUSTOMER)
