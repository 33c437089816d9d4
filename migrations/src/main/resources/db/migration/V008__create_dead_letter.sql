-- Why: nothing is dropped silently. A record no listener could process goes to its <topic>-dlt
-- topic, and the scheduler stores it here so the api can show it. The unique key is the record's
-- original coordinates, so a DLT record delivered twice is stored once. record_value is text, not
-- jsonb: a poison record is often not valid JSON.

CREATE TABLE dead_letter (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic           text        NOT NULL,
    kafka_partition integer     NOT NULL CHECK (kafka_partition >= 0),
    kafka_offset    bigint      NOT NULL CHECK (kafka_offset >= 0),
    dlt_topic       text        NOT NULL,
    record_key      text,
    record_value    text,
    error           text        NOT NULL,
    error_class     text,
    received_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT dead_letter_record_key UNIQUE (topic, kafka_partition, kafka_offset)
);

CREATE INDEX dead_letter_received_at_idx ON dead_letter (received_at DESC, id);
