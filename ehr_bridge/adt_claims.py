"""Claims on ADT messages when several instances share the inbox (PostgreSQL).

Any instance applies the messages it received (its MLLP connections wait for their ACKs), so
the inbox is shared. In the transaction that applies messages:

1. the patients' order is serialised across instances: a transaction-scoped advisory lock per
   patient key, taken in sorted order (so two batches never wait on each other in a cycle);
2. the messages are claimed (``FOR UPDATE``): a message another instance applied meanwhile is
   no longer ``received`` and is not applied again;
3. a message is applied only when no earlier message of its patient is still ``received``
   outside the transaction: otherwise the batch is refused (:class:`OutOfTurn`) and its
   messages go one by one, each after its patient's earlier ones (``AdtProcessor``).

The locks end with the transaction, so a dead instance holds nothing; its unanswered
messages are sent again by their senders and applied by whichever instance gets them.
On SQLite (one instance) there is nobody to claim against: everything is kept as is.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import BigInteger, String

from ehr_bridge import adt_inbox as inbox
from ehr_bridge.adt_inbox import InboxEntry
from wardline.db.engine import Database
from wardline.errors import StorageError

LOCK_SPACE = 0x41_44_54  # "ADT": the advisory locks' first key, apart from other users'

_IDS = bindparam("ids", type_=ARRAY(BigInteger))
_KEYS = bindparam("keys", type_=ARRAY(String))
CLAIM_IDLE_LIMIT_MS = 5000
"""An applying transaction left idle this long (its instance cut off the database, frozen)
is ended by PostgreSQL, so its patients' locks and claimed messages go to the others."""
_IDLE_LIMIT = text("SELECT set_config('idle_in_transaction_session_timeout', :limit, true)")
_LOCK = text(
    "SELECT count(pg_advisory_xact_lock(:space, hashtext(k))) "
    "FROM (SELECT DISTINCT k FROM unnest(:keys) AS k ORDER BY k) AS patients"
).bindparams(_KEYS)
_CLAIM = text(
    "WITH claimed AS (SELECT id FROM inbound_messages "
    "  WHERE id = ANY(:ids) AND status = ANY(:statuses) ORDER BY id FOR UPDATE) "
    "SELECT (SELECT array_agg(id) FROM claimed) AS claimed, "
    "  (SELECT count(*) FROM inbound_messages AS r "
    "   JOIN unnest(:keyed, :keys) AS m(id, key) ON r.patient_key = m.key AND r.id < m.id "
    "   WHERE r.status = 'received' AND NOT r.id = ANY(:keyed)) AS earlier"
).bindparams(
    _IDS, _KEYS, bindparam("keyed", type_=ARRAY(BigInteger)),
    bindparam("statuses", type_=ARRAY(String)),
)  # fmt: skip
"""The messages locked, and (in the same snapshot, taken after the patients' locks) how many
earlier messages of their patients are still waiting outside them: one round trip."""


class OutOfTurn(StorageError):
    """A message whose patient has an earlier one still waiting: applied after it."""


class AppliedElsewhere(StorageError):
    """Another instance settled the message first: its stored answer is the answer."""


async def waiting_before(db: Database, entry: InboxEntry) -> list[InboxEntry]:
    """The patient's messages still waiting before ``entry`` (PostgreSQL: another instance
    may have persisted them), to apply first; none on SQLite, where this process knows."""
    if db.dialect != "postgresql" or not entry.patient_key:
        return []
    due = await inbox.due_with(db, entry.patient_key, entry.id)
    return [earlier for earlier in due if earlier.id != entry.id]


async def claim(
    s: AsyncSession,
    messages: Sequence[tuple[int, str | None]],
    *,
    in_turn: bool = True,
    statuses: Sequence[str] = ("received",),
) -> set[int]:
    """In the applying transaction, for ``(message id, patient key)`` pairs: the ids this
    transaction may apply (still waiting, now locked). With ``in_turn``, a message with an
    earlier one of its patient still waiting elsewhere raises :class:`OutOfTurn`."""
    ids = [message_id for message_id, _ in messages]
    if s.get_bind().dialect.name != "postgresql":
        return set(ids)
    keyed = [(message_id, key) for message_id, key in messages if key]
    await s.execute(_IDLE_LIMIT, {"limit": str(CLAIM_IDLE_LIMIT_MS)})
    if keyed:
        await s.execute(_LOCK, {"space": LOCK_SPACE, "keys": [k for _, k in keyed]})
    if not in_turn:
        keyed = []
    row = (
        await s.execute(
            _CLAIM,
            {
                "ids": ids,
                "statuses": list(statuses),
                "keyed": [m for m, _ in keyed],
                "keys": [k for _, k in keyed],
            },
        )
    ).one()
    if row.earlier:
        raise OutOfTurn("adt.out_of_turn", "an earlier message of the patient is waiting")
    return set(row.claimed or ())
