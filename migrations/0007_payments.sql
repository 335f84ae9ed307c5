-- Credits bought with Telegram Stars and spent on videos (PAYMENTS=stars).
-- Created whatever PAYMENTS says: one schema, and turning payments on later
-- needs no migration.

-- Each user's credits now. Every change writes a credit_movements row in the
-- same transaction; the CHECK is the last line of defence for "never below zero".
CREATE TABLE credit_balances (
    user_id    BIGINT PRIMARY KEY,
    balance    BIGINT NOT NULL CHECK (balance >= 0),
    -- 1 once FREE_CREDITS were given: they are given once per user.
    free_given BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL
);

-- Every movement of credits, kept for good: what /balance lists and what an
-- operator reconciles against Telegram's Stars transactions.
CREATE TABLE credit_movements (
    -- From credit_sequence, taken under its row lock: one writer at a time.
    id            BIGINT PRIMARY KEY,
    user_id       BIGINT NOT NULL,
    -- Positive: credits in (bought, given_back, granted); negative: out
    -- (spent, refunded, a negative grant).
    delta         BIGINT NOT NULL,
    reason        TEXT NOT NULL,
    balance_after BIGINT NOT NULL,
    -- The video of `spent` and `given_back`.
    task_id       BIGINT,
    -- telegram_payment_charge_id of `bought` and `refunded`.
    charge_id     TEXT,
    -- Stars paid (`bought`) or returned (`refunded`).
    stars         BIGINT,
    -- The admin behind `granted` (NULL: FREE_CREDITS) and `refunded`.
    by_user       BIGINT,
    created_at    BIGINT NOT NULL,
    -- A charge is credited once and refunded once, whatever Telegram redelivers
    -- and whichever replica sees it; a video is paid once and given back once.
    -- (NULLs never collide, so rows without a charge or task are unconstrained.)
    UNIQUE (charge_id, reason),
    UNIQUE (task_id, reason)
);
CREATE INDEX credit_movements_by_user ON credit_movements (user_id, id);

-- One row whose lock every credit movement takes first: it numbers the
-- movements and, on PostgreSQL, serialises the duplicate checks of replicas.
CREATE TABLE credit_sequence (id BIGINT PRIMARY KEY, last BIGINT NOT NULL);
INSERT INTO credit_sequence (id, last) VALUES (1, 0);

-- Invoices sent by /buy. The invoice payload names one row (and, readable,
-- its pack and buyer); a pre-checkout or payment is checked against the row,
-- never against what the client sends back.
CREATE TABLE invoices (
    nonce      TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL,
    -- Where /buy was pressed: whether the buyer may use the bot there.
    chat_id    BIGINT NOT NULL,
    credits    BIGINT NOT NULL,
    stars      BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Credits this video took from its requester's balance (0: free, an admin's,
-- or made with payments off), what a refused or failed video gives back.
ALTER TABLE tasks ADD COLUMN credits BIGINT NOT NULL DEFAULT 0;
