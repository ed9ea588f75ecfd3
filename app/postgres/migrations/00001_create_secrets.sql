-- +goose Up
-- One row per record name; an encrypt replaces the row (upsert).
CREATE TABLE secrets (
    name       text        PRIMARY KEY CHECK (char_length(name) BETWEEN 1 AND 255),
    ciphertext bytea       NOT NULL CHECK (octet_length(ciphertext) BETWEEN 1 AND 6144),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE secrets;
