"""Demo blacklist: about one enterprise in a hundred listed, a few of them lifted on review.

Invented for the demo (reasons, dates, deciders); loaded with the demo enterprises and
before the grading, so their raised levels are part of the demo's aggregates.
"""

from datetime import date

from sqlalchemy import text
from sqlalchemy.orm import Session

REASONS = (
    "发生较大生产安全事故，负有责任",
    "重大事故隐患拒不整改",
    "未批先建、擅自生产危险化学品",
    "关闭取缔后擅自恢复生产",
)
LEGAL_BASIS = "《安全生产严重失信主体名单管理办法》第六条（演示）"
EVERY = 100  # one enterprise in EVERY is listed
LIFTED = 5  # of the listed, one in LIFTED has been lifted on review


def load_demo_blacklist(session: Session, *, today: date, every: int = EVERY) -> dict[str, int]:
    """List every `every`-th demo enterprise (decided 10–190 days ago, for a year); lift
    every LIFTED-th listing on review. Returns the listings in force."""
    session.execute(
        text("""
        WITH chosen AS (
            SELECT e.id, e.county_code, row_number() OVER (ORDER BY e.id) AS n
              FROM enterprises e)
        INSERT INTO blacklist_entries (county_code, enterprise_id, reason, legal_basis,
                                       decided_on, listed_until, decided_by, removed_on,
                                       removal, removal_note, removed_by)
        SELECT c.county_code, c.id, (CAST(:reasons AS text[]))[CAST(1 + (c.n / :every) % 4 AS int)],
               :basis, d.decided, d.decided + 364, '自治区应急管理厅（演示）',
               CASE WHEN lifted THEN :today END, CASE WHEN lifted THEN 'review' END,
               CASE WHEN lifted THEN '完成信用修复（演示）' END,
               CASE WHEN lifted THEN '自治区应急管理厅（演示）' END
          FROM chosen c
         CROSS JOIN LATERAL (SELECT CAST(:today AS date) - CAST(10 + (c.n * 7) % 180 AS int) AS decided,
                                    (c.n / :every) % :lifted = 0 AS lifted) d
         WHERE c.n % :every = 0"""),
        {
            "reasons": list(REASONS),
            "basis": LEGAL_BASIS,
            "every": every,
            "lifted": LIFTED,
            "today": today,
        },
    )
    in_force: int = session.execute(
        text("SELECT count(*) FROM blacklist_entries WHERE removed_on IS NULL")
    ).scalar_one()
    return {"blacklisted": in_force}
