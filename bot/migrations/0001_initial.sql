-- The schema as Stagecoach's first versioned release left it, for both backends. Every
-- statement holds on a database that has some of it already: SQLite files made before
-- migrations were recorded. {id} is an id the database hands out; {arrival} gives a table
-- the order its rows came in, under the name SQLite gives it (rowid).

-- People, and their conversations with the bot in each chat
CREATE TABLE IF NOT EXISTS users (
    platform TEXT NOT NULL, user_id TEXT NOT NULL, lang TEXT, name TEXT, created_at TEXT NOT NULL,
    PRIMARY KEY (platform, user_id)
);
CREATE TABLE IF NOT EXISTS conversations (
    platform TEXT NOT NULL, chat_id TEXT NOT NULL, user_id TEXT NOT NULL,
    state TEXT NOT NULL, assessment_id BIGINT, cursor BIGINT NOT NULL, tip_id TEXT, coach_stage BIGINT,
    coach_focus TEXT, quick TEXT, team_id BIGINT, last_key TEXT, updated_at TEXT,
    PRIMARY KEY (platform, chat_id, user_id)
);

-- Assessments and their answers
CREATE TABLE IF NOT EXISTS assessments (
    id {id}, platform TEXT NOT NULL, chat_id TEXT NOT NULL, user_id TEXT NOT NULL,
    started_at TEXT NOT NULL, finished_at TEXT, stage BIGINT, result TEXT, team_id BIGINT, position BIGINT
);
CREATE INDEX IF NOT EXISTS idx_assessments_platform_chat_id_user_id_finished_at
    ON assessments (platform, chat_id, user_id, finished_at);
CREATE TABLE IF NOT EXISTS answers (
    assessment_id BIGINT REFERENCES assessments (id), question_id TEXT, value BIGINT, answered_at TEXT,
    PRIMARY KEY (assessment_id, question_id)
);

-- Teams: who started them where, their invites and members, and codes typed that fit none
CREATE TABLE IF NOT EXISTS teams (
    id {id}, platform TEXT NOT NULL, chat_id TEXT NOT NULL, name TEXT NOT NULL, code TEXT NOT NULL,
    starter_id TEXT NOT NULL, lang TEXT NOT NULL, status TEXT NOT NULL, created_at TEXT NOT NULL,
    closed_at TEXT, stage BIGINT, result TEXT, workspace TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_teams_platform_code ON teams (platform, code);
CREATE INDEX IF NOT EXISTS idx_teams_platform_chat_id_status ON teams (platform, chat_id, status);
CREATE TABLE IF NOT EXISTS invites (
    token TEXT PRIMARY KEY, team_id BIGINT NOT NULL REFERENCES teams (id),
    created_at TEXT NOT NULL, expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS team_members (
    team_id BIGINT REFERENCES teams (id), platform TEXT, user_id TEXT, joined_at TEXT, left_at TEXT,
    PRIMARY KEY (team_id, user_id)
);
CREATE TABLE IF NOT EXISTS wrong_codes (platform TEXT NOT NULL, user_id TEXT NOT NULL, at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS idx_wrong_codes_platform_user_id_at ON wrong_codes (platform, user_id, at);

-- Coaching: feedback on tips, and the roadmap's items done
CREATE TABLE IF NOT EXISTS tip_feedback (
    platform TEXT, chat_id TEXT, user_id TEXT, tip_id TEXT, status TEXT, at TEXT,
    PRIMARY KEY (platform, chat_id, user_id, tip_id)
);
CREATE TABLE IF NOT EXISTS roadmap (
    platform TEXT, chat_id TEXT, user_id TEXT, item_id TEXT, at TEXT,
    PRIMARY KEY (platform, chat_id, user_id, item_id)
);

-- Weekly tips: subscriptions, a delivery per week (the outbox), and champions
CREATE TABLE IF NOT EXISTS subscriptions (
    id {id}, platform TEXT NOT NULL, chat_id TEXT NOT NULL, lang TEXT NOT NULL, stage BIGINT,
    weekday BIGINT NOT NULL, at TEXT NOT NULL, zone TEXT NOT NULL, status TEXT NOT NULL,
    champion_id TEXT NOT NULL, created_at TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_subscriptions_platform_chat_id ON subscriptions (platform, chat_id);
CREATE TABLE IF NOT EXISTS deliveries (
    subscription_id BIGINT REFERENCES subscriptions (id), period TEXT, tip_id TEXT, status TEXT, due_at TEXT,
    claimed_at TEXT, sent_at TEXT, late BIGINT, message_id TEXT,
    PRIMARY KEY (subscription_id, period)
);
CREATE TABLE IF NOT EXISTS champions (
    platform TEXT, scope TEXT, user_id TEXT, added_by TEXT, at TEXT,
    PRIMARY KEY (platform, scope, user_id)
);

-- Updates: handled ones (idempotency, unsent replies), and the inbox of those not yet handled
CREATE TABLE IF NOT EXISTS events (
    key TEXT PRIMARY KEY, {arrival} platform TEXT, user_id TEXT, replies TEXT, handled_at TEXT,
    delivered_at TEXT, chat_id TEXT, chat_type TEXT
);
CREATE INDEX IF NOT EXISTS idx_events_platform_user_id ON events (platform, user_id);
CREATE INDEX IF NOT EXISTS idx_events_handled_at ON events (handled_at);
CREATE TABLE IF NOT EXISTS inbox (
    key TEXT PRIMARY KEY, {arrival} platform TEXT NOT NULL, user_id TEXT, payload TEXT NOT NULL,
    received_at TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'new'
);
CREATE TABLE IF NOT EXISTS posted_messages (
    platform TEXT, ref TEXT, chat_id TEXT, message_id TEXT, at TEXT,
    PRIMARY KEY (platform, ref, chat_id)
);

-- Shared by every instance: settings, a platform's installations, install links' states
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS installations (
    platform TEXT NOT NULL, enterprise_id TEXT NOT NULL, team_id TEXT NOT NULL, bot TEXT NOT NULL,
    installed_at TEXT NOT NULL,
    PRIMARY KEY (platform, enterprise_id, team_id)
);
CREATE TABLE IF NOT EXISTS oauth_states (state TEXT PRIMARY KEY, expires_at TEXT NOT NULL);
