-- A database made by the release before versioned migrations (schema version 4): two people,
-- one assessment finished and one halfway, a team, weekly tips, an unsent reply and an inbox.
PRAGMA user_version=4;
BEGIN TRANSACTION;
CREATE TABLE "answers" (
   "assessment_id" INTEGER REFERENCES "assessments"("id"),
   "question_id" TEXT,
   "value" INTEGER,
   "answered_at" TEXT,
   PRIMARY KEY ("assessment_id", "question_id")
);
INSERT INTO "answers" VALUES(1,'strategy.goals',4,'2026-11-20T09:00:00+00:00');
INSERT INTO "answers" VALUES(1,'strategy.functions',4,'2026-11-20T09:00:00+00:00');
INSERT INTO "answers" VALUES(1,'strategy.review',4,'2026-11-20T09:00:00+00:00');
INSERT INTO "answers" VALUES(1,'leadership.sponsor',4,'2026-11-20T09:00:00+00:00');
INSERT INTO "answers" VALUES(1,'leadership.example',4,'2026-11-20T09:00:00+00:00');
INSERT INTO "answers" VALUES(1,'organisation.hub',4,'2026-11-20T09:00:00+00:00');
INSERT INTO "answers" VALUES(1,'organisation.governance',4,'2026-11-20T09:00:00+00:00');
INSERT INTO "answers" VALUES(1,'organisation.resources',4,'2026-11-20T09:00:00+00:00');
INSERT INTO "answers" VALUES(1,'listening.monitoring',4,'2026-11-20T09:00:00+00:00');
INSERT INTO "answers" VALUES(1,'listening.response',4,'2026-11-20T09:00:00+00:00');
INSERT INTO "answers" VALUES(1,'listening.insights',4,'2026-11-20T09:00:00+00:00');
INSERT INTO "answers" VALUES(1,'engagement.dialog',4,'2026-11-20T09:00:00+00:00');
INSERT INTO "answers" VALUES(1,'engagement.community',4,'2026-11-20T09:00:00+00:00');
INSERT INTO "answers" VALUES(1,'people.training',4,'2026-11-20T09:00:00+00:00');
INSERT INTO "answers" VALUES(1,'people.guidelines',4,'2026-11-20T09:00:00+00:00');
INSERT INTO "answers" VALUES(1,'people.participation',4,'2026-11-20T09:00:00+00:00');
INSERT INTO "answers" VALUES(1,'measurement.metrics',4,'2026-11-20T09:00:00+00:00');
INSERT INTO "answers" VALUES(1,'measurement.impact',4,'2026-11-20T09:00:00+00:00');
INSERT INTO "answers" VALUES(1,'tools.platforms',4,'2026-11-20T09:00:00+00:00');
INSERT INTO "answers" VALUES(1,'tools.integration',4,'2026-11-20T09:00:00+00:00');
INSERT INTO "answers" VALUES(1,'culture.openness',4,'2026-11-20T09:00:00+00:00');
INSERT INTO "answers" VALUES(1,'culture.adaptability',4,'2026-11-20T09:00:00+00:00');
INSERT INTO "answers" VALUES(2,'strategy.goals',2,'2026-11-20T09:00:00+00:00');
INSERT INTO "answers" VALUES(2,'strategy.functions',3,'2026-11-20T09:00:00+00:00');
CREATE TABLE "assessments" (
   "id" INTEGER PRIMARY KEY,
   "platform" TEXT NOT NULL,
   "chat_id" TEXT NOT NULL,
   "user_id" TEXT NOT NULL,
   "started_at" TEXT NOT NULL,
   "finished_at" TEXT,
   "stage" INTEGER,
   "result" TEXT,
   "team_id" INTEGER,
   "position" INTEGER
);
INSERT INTO "assessments" VALUES(1,'test','ann','ann','2026-11-20T09:00:00+00:00','2026-11-20T09:00:00+00:00',4,'{"stage": 4, "dimensions": {"strategy": 4, "leadership": 4, "organisation": 4, "listening": 4, "engagement": 4, "people": 4, "measurement": 4, "tools": 4, "culture": 4}, "answered": 22, "total": 22, "held_by": [], "base": 4, "answers": {"strategy.goals": 4, "strategy.functions": 4, "strategy.review": 4, "leadership.sponsor": 4, "leadership.example": 4, "organisation.hub": 4, "organisation.governance": 4, "organisation.resources": 4, "listening.monitoring": 4, "listening.response": 4, "listening.insights": 4, "engagement.dialog": 4, "engagement.community": 4, "people.training": 4, "people.guidelines": 4, "people.participation": 4, "measurement.metrics": 4, "measurement.impact": 4, "tools.platforms": 4, "tools.integration": 4, "culture.openness": 4, "culture.adaptability": 4}}',NULL,NULL);
INSERT INTO "assessments" VALUES(2,'test','bob','bob','2026-11-20T09:00:00+00:00',NULL,NULL,NULL,NULL,NULL);
CREATE TABLE "champions" (
   "platform" TEXT,
   "scope" TEXT,
   "user_id" TEXT,
   "added_by" TEXT,
   "at" TEXT,
   PRIMARY KEY ("platform", "scope", "user_id")
);
CREATE TABLE "conversations" (
   "platform" TEXT NOT NULL,
   "chat_id" TEXT NOT NULL,
   "user_id" TEXT NOT NULL,
   "state" TEXT NOT NULL,
   "assessment_id" INTEGER,
   "cursor" INTEGER NOT NULL,
   "tip_id" TEXT,
   "coach_stage" INTEGER,
   "coach_focus" TEXT,
   "quick" TEXT,
   "team_id" INTEGER,
   "last_key" TEXT,
   "updated_at" TEXT,
   PRIMARY KEY ("platform", "chat_id", "user_id")
);
INSERT INTO "conversations" VALUES('test','ann','ann','idle',NULL,0,NULL,NULL,'','',NULL,NULL,'2026-11-20T09:00:00+00:00');
INSERT INTO "conversations" VALUES('test','bob','bob','assessing',2,2,NULL,NULL,'','',NULL,NULL,'2026-11-20T09:00:00+00:00');
INSERT INTO "conversations" VALUES('test','-100','ann','idle',NULL,0,NULL,NULL,'','',1,'t-1','2026-11-20T09:00:00+00:00');
INSERT INTO "conversations" VALUES('test','cas','cas','idle',NULL,0,NULL,NULL,'','',NULL,'undelivered-1','2026-11-20T09:00:00+00:00');
CREATE TABLE "deliveries" (
   "subscription_id" INTEGER REFERENCES "subscriptions"("id"),
   "period" TEXT,
   "tip_id" TEXT,
   "status" TEXT,
   "due_at" TEXT,
   "claimed_at" TEXT,
   "sent_at" TEXT,
   "late" INTEGER,
   "message_id" TEXT,
   PRIMARY KEY ("subscription_id", "period")
);
INSERT INTO "deliveries" VALUES(1,'2026-W47','tip.x','sent','2026-11-20T09:00:00+00:00','2026-11-20T09:00:00+00:00','2026-11-20T09:00:00+00:00',0,'m1');
CREATE TABLE "events" (
   "key" TEXT PRIMARY KEY,
   "platform" TEXT,
   "user_id" TEXT,
   "replies" TEXT,
   "handled_at" TEXT,
   "delivered_at" TEXT,
   "chat_id" TEXT,
   "chat_type" TEXT
);
INSERT INTO "events" VALUES('t-1','test','ann','[{"text":"Teamvragenlijst „Marketing” · code 5S2RVJK7\nGeantwoord (0): –\nDoe mee: tik op de knop, of stuur me /team join 5S2RVJK7 in een privégesprek. Wie het team heeft aangemaakt, sluit het af met /team close.","kind":"team_progress","options":[{"key":"/start HTM8HhfdZmp7jG3USXq_NQ","label":"Doe mee","value":"/start HTM8HhfdZmp7jG3USXq_NQ","private":true}],"ref":"team:1"}]','2026-11-20T09:00:00+00:00',NULL,'-100','group');
INSERT INTO "events" VALUES('undelivered-1','test','cas','[{"text":"Here is what I understand:\n/assess – begin the assessment, or carry on where you left off\n/back – go back one question\n/skip – skip a question for now\n/restart – start the assessment again from the first question\n/result – your latest result, and how it changed since the one before\n/lang nl or /lang en – Nederlands or English\n/tips – a coaching tip for your stage; then more, why, done or not for us\n/roadmap – the moves that lead to your next stage, and what you have done\n/team – a team assessment: /team new NAME, /team join CODE, /team status, /team close, /team leave\n/forget – delete everything I keep about you\n/help – this list\nWhile answering, type the number of an option: 1 to 6 for the stages, 0 for \"don''t know\".","kind":"text"}]','2026-11-20T09:00:00+00:00',NULL,'cas','private');
CREATE TABLE "inbox" (
   "key" TEXT PRIMARY KEY,
   "platform" TEXT NOT NULL,
   "user_id" TEXT,
   "payload" TEXT NOT NULL,
   "received_at" TEXT NOT NULL,
   "status" TEXT NOT NULL DEFAULT 'new'
);
INSERT INTO "inbox" VALUES('in-1','test','bob','{"text": "/help"}','2026-11-20T09:00:00+00:00','new');
CREATE TABLE "installations" (
   "platform" TEXT NOT NULL,
   "enterprise_id" TEXT NOT NULL,
   "team_id" TEXT NOT NULL,
   "bot" TEXT NOT NULL,
   "installed_at" TEXT NOT NULL,
   PRIMARY KEY ("platform", "enterprise_id", "team_id")
);
INSERT INTO "installations" VALUES('slack','','T1','{"bot_token": "xoxb"}','2026-11-20T09:00:00+00:00');
CREATE TABLE "invites" (
   "token" TEXT PRIMARY KEY,
   "team_id" INTEGER NOT NULL REFERENCES "teams"("id"),
   "created_at" TEXT NOT NULL,
   "expires_at" TEXT NOT NULL
);
INSERT INTO "invites" VALUES('HTM8HhfdZmp7jG3USXq_NQ',1,'2026-11-20T09:00:00+00:00','2026-12-20T09:00:00+00:00');
CREATE TABLE "oauth_states" (
   "state" TEXT PRIMARY KEY,
   "expires_at" TEXT NOT NULL
);
CREATE TABLE "posted_messages" (
   "platform" TEXT,
   "ref" TEXT,
   "chat_id" TEXT,
   "message_id" TEXT,
   "at" TEXT,
   PRIMARY KEY ("platform", "ref", "chat_id")
);
CREATE TABLE "roadmap" (
   "platform" TEXT,
   "chat_id" TEXT,
   "user_id" TEXT,
   "item_id" TEXT,
   "at" TEXT,
   PRIMARY KEY ("platform", "chat_id", "user_id", "item_id")
);
CREATE TABLE "settings" (
   "key" TEXT PRIMARY KEY,
   "value" TEXT
);
CREATE TABLE "subscriptions" (
   "id" INTEGER PRIMARY KEY,
   "platform" TEXT NOT NULL,
   "chat_id" TEXT NOT NULL,
   "lang" TEXT NOT NULL,
   "stage" INTEGER,
   "weekday" INTEGER NOT NULL,
   "at" TEXT NOT NULL,
   "zone" TEXT NOT NULL,
   "status" TEXT NOT NULL,
   "champion_id" TEXT NOT NULL,
   "created_at" TEXT
);
INSERT INTO "subscriptions" VALUES(1,'test','-100','nl',4,1,'09:00','Europe/Amsterdam','active','ann','2026-11-20T09:00:00+00:00');
CREATE TABLE "team_members" (
   "team_id" INTEGER REFERENCES "teams"("id"),
   "platform" TEXT,
   "user_id" TEXT,
   "joined_at" TEXT,
   "left_at" TEXT,
   PRIMARY KEY ("team_id", "user_id")
);
CREATE TABLE "teams" (
   "id" INTEGER PRIMARY KEY,
   "platform" TEXT NOT NULL,
   "chat_id" TEXT NOT NULL,
   "name" TEXT NOT NULL,
   "code" TEXT NOT NULL,
   "starter_id" TEXT NOT NULL,
   "lang" TEXT NOT NULL,
   "status" TEXT NOT NULL,
   "created_at" TEXT NOT NULL,
   "closed_at" TEXT,
   "stage" INTEGER,
   "result" TEXT,
   "workspace" TEXT NOT NULL DEFAULT ''
);
INSERT INTO "teams" VALUES(1,'test','-100','Marketing','5S2RVJK7','ann','nl','open','2026-11-20T09:00:00+00:00',NULL,NULL,NULL,'');
CREATE TABLE "tip_feedback" (
   "platform" TEXT,
   "chat_id" TEXT,
   "user_id" TEXT,
   "tip_id" TEXT,
   "status" TEXT,
   "at" TEXT,
   PRIMARY KEY ("platform", "chat_id", "user_id", "tip_id")
);
CREATE TABLE "users" (
   "platform" TEXT NOT NULL,
   "user_id" TEXT NOT NULL,
   "lang" TEXT,
   "name" TEXT,
   "created_at" TEXT NOT NULL,
   PRIMARY KEY ("platform", "user_id")
);
INSERT INTO "users" VALUES('test','ann',NULL,'Ann de Vries','2026-11-20T09:00:00+00:00');
INSERT INTO "users" VALUES('test','bob',NULL,'Bob','2026-11-20T09:00:00+00:00');
INSERT INTO "users" VALUES('test','cas',NULL,'Cas','2026-11-20T09:00:00+00:00');
CREATE TABLE "wrong_codes" (
   "platform" TEXT NOT NULL,
   "user_id" TEXT NOT NULL,
   "at" TEXT NOT NULL
);
CREATE INDEX "idx_wrong_codes_platform_user_id_at"
    ON "wrong_codes" ("platform", "user_id", "at");
CREATE UNIQUE INDEX "idx_subscriptions_platform_chat_id"
    ON "subscriptions" ("platform", "chat_id");
CREATE UNIQUE INDEX "idx_teams_platform_code"
    ON "teams" ("platform", "code");
CREATE INDEX "idx_teams_platform_chat_id_status"
    ON "teams" ("platform", "chat_id", "status");
CREATE INDEX "idx_assessments_platform_chat_id_user_id_finished_at"
    ON "assessments" ("platform", "chat_id", "user_id", "finished_at");
CREATE INDEX "idx_events_platform_user_id"
    ON "events" ("platform", "user_id");
CREATE INDEX "idx_events_handled_at"
    ON "events" ("handled_at");
COMMIT;
