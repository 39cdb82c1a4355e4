-- Each replica re-checks, at its owner-lease heartbeat, whether a run it executes was asked to
-- cancel (in case it missed the NOTIFY while its listening connection was down). The index
-- holds only the unfinished runs with a cancel pending, so that check costs next to nothing.
CREATE INDEX runs_cancel_pending ON runs (owner_id)
    WHERE cancel_requested = 1 AND status IN ('PENDING', 'RUNNING');
