-- The question a bare /video asks (a ForceReply): it belongs to the person
-- who asked and is answered once. A row goes when its answer is taken.
CREATE TABLE guided_questions (
    chat_id    BIGINT NOT NULL,
    message_id BIGINT NOT NULL,
    user_id    BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (chat_id, message_id)
);
CREATE INDEX guided_questions_by_age ON guided_questions (created_at);
