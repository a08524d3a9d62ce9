"""The daily escalation run: `python -m app.cli dangers escalate` (cron, systemd timer).

Escalation must not wait for someone to call POST /api/hidden-dangers/escalations: the
command runs it for the whole country as the system, recorded in each danger's history
and in the audit log under the actor `cli:escalate`.
"""

from datetime import date

from sqlalchemy.orm import Session

from app.audit.service import tell_database_who
from app.auth.scope import Scope
from app.dangers import service

ACTOR = "cli:escalate"
# Everything, like an admin; no user row stands behind it.
SYSTEM_SCOPE = Scope(role="admin", username=ACTOR, write_prefix="")


def escalate_all(session: Session, *, today: date) -> list[int]:
    """Escalate every overdue major danger one level, in the caller's transaction (whose
    audit rows name ACTOR when the session was told so first); the ids escalated."""
    escalated = service.escalate_overdue(session, scope=SYSTEM_SCOPE, today=today)
    return [danger.id for danger in escalated]


def run(session: Session, *, today: date) -> list[int]:
    """The command's run: the system as the actor, one transaction, committed."""
    tell_database_who(
        session, scope=SYSTEM_SCOPE, client_address="cli", request_id=None, actor=ACTOR
    )
    with session.begin():
        return escalate_all(session, today=today)
