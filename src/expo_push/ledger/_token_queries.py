"""The queries of tokens: which are dead (reported or not, revived), and the Expo project of each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._database import Database
from ._models import DeadToken
from ._rows import Cursor

__all__ = ["TokenQueries"]


class TokenQueries(Database):
    """Dead tokens and tokens' projects (``expo_push_dead_tokens``, ``expo_push_token_projects``)."""

    def dead_among(self, tokens: Sequence[str]) -> set[str]:
        """The tokens of ``tokens`` that are dead."""
        dead: set[str] = set()
        if not tokens:
            return dead
        with self.transaction(write=False) as cur:
            for start in range(0, len(tokens), self.dead_query_size):
                part = tokens[start : start + self.dead_query_size]
                cur.execute(*self._dead_query(part))
                dead.update(r[0] for r in cur.fetchall())
        return dead

    def _dead_query(self, tokens: Sequence[str]) -> tuple[str, Any]:
        return (
            self.q(
                "SELECT token FROM expo_push_dead_tokens WHERE revived_at IS NULL"
                f" AND token IN ({', '.join('?' * len(tokens))})"
            ),
            tokens,
        )

    def mark_dead(
        self,
        cur: Cursor,
        token: str,
        at: float,
        reason: str,
        message: str | None,
        ticket_id: str | None,
        evidence_at: float,
        reported: bool = False,
    ) -> bool:
        """Mark ``token`` dead unless it is, or was revived after ``evidence_at``; return whether it died now.

        ``reported``: there is no one to tell (otherwise the death stays to report until ``mark_reported``).
        """
        cur.execute(
            self.q(
                "INSERT INTO expo_push_dead_tokens"
                " (token, died_at, reason, message, ticket_id, revived_at, reported_at) VALUES (?, ?, ?, ?, ?, NULL, ?)"
                " ON CONFLICT (token) DO UPDATE SET died_at = excluded.died_at,"
                " reason = excluded.reason, message = excluded.message, ticket_id = excluded.ticket_id,"
                " revived_at = NULL, reported_at = excluded.reported_at WHERE expo_push_dead_tokens.revived_at"
                " IS NOT NULL AND expo_push_dead_tokens.revived_at <= ? RETURNING token"
            ),
            (token, at, reason, message, ticket_id, at if reported else None, evidence_at),
        )
        return cur.fetchone() is not None

    def dead_tokens(self, since: float | None) -> list[DeadToken]:
        """Dead tokens, oldest death first."""
        with self.transaction(write=False) as cur:
            cur.execute(
                self.q(
                    "SELECT token, died_at, reason, message, ticket_id FROM expo_push_dead_tokens"
                    " WHERE revived_at IS NULL AND died_at >= ? ORDER BY died_at, token"
                ),
                (float("-inf") if since is None else since,),
            )
            return [DeadToken(*r) for r in cur.fetchall()]

    def unreported_dead(self, limit: int) -> list[DeadToken]:
        """Dead tokens whose death was not reported yet (a callback raised, or its process ended), oldest first."""
        with self.transaction(write=False) as cur:
            cur.execute(
                self.q(
                    "SELECT token, died_at, reason, message, ticket_id FROM expo_push_dead_tokens"
                    " WHERE reported_at IS NULL AND revived_at IS NULL ORDER BY died_at, token LIMIT ?"
                ),
                (limit,),
            )
            return [DeadToken(*r) for r in cur.fetchall()]

    def mark_reported(self, deaths: Sequence[DeadToken], at: float) -> None:
        """Note that the application was told of these deaths (a death since, after a revival, stays to report)."""
        if deaths:
            with self.transaction() as cur:
                cur.executemany(
                    self.q(
                        "UPDATE expo_push_dead_tokens SET reported_at = ?"
                        " WHERE token = ? AND died_at = ? AND reported_at IS NULL"
                    ),
                    [(at, dead.token, dead.died_at) for dead in deaths],
                )

    def count_dead(self) -> int:
        """How many tokens are dead."""
        with self.transaction(write=False) as cur:
            cur.execute("SELECT COUNT(*) FROM expo_push_dead_tokens WHERE revived_at IS NULL")
            return int(cur.fetchone()[0])

    def revive(self, token: str, at: float) -> bool:
        """Forget the death of ``token`` (remembering when, to ignore older evidence); return whether it was dead."""
        with self.transaction() as cur:
            cur.execute(
                self.q(
                    "UPDATE expo_push_dead_tokens SET revived_at = ? WHERE token = ? AND revived_at IS NULL"
                    " RETURNING token"
                ),
                (at, token),
            )
            return cur.fetchone() is not None

    def projects_of(self, tokens: Sequence[str]) -> dict[str, str]:
        """The known project of each of ``tokens`` that has one."""
        known: dict[str, str] = {}
        if not tokens:
            return known
        with self.transaction(write=False) as cur:
            for start in range(0, len(tokens), 500):
                part = tokens[start : start + 500]
                marks = ", ".join("?" * len(part))
                cur.execute(
                    self.q(f"SELECT token, project FROM expo_push_token_projects WHERE token IN ({marks})"), part
                )
                known.update((str(token), str(project)) for token, project in cur.fetchall())
        return known

    def project_of(self, cur: Cursor, token: str) -> str | None:
        """The known project of ``token``, inside the caller's transaction."""
        cur.execute(self.q("SELECT project FROM expo_push_token_projects WHERE token = ?"), (token,))
        row = cur.fetchone()
        return None if row is None else str(row[0])

    def remember_projects(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Store the project of tokens: (token, project) pairs."""
        if pairs:
            with self.transaction() as cur:
                cur.executemany(
                    self.q(
                        "INSERT INTO expo_push_token_projects (token, project) VALUES (?, ?)"
                        " ON CONFLICT (token) DO UPDATE SET project = excluded.project"
                    ),
                    pairs,
                )
