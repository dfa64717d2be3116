-- Message search (docs/database.md, "Message search"): each message's folded words, a
-- generated tsvector of them behind a GIN index (whole words and prefixes), a trigram index
-- on the folded text (the query inside words), an index on the time of each conversation's
-- messages (frequent words are looked for in the newest messages first), and the planner's
-- estimate of how many messages a query matches (which decides between the two).
--
-- The folded words are written by the application, as `domain::search::search_words`
-- makes them (lower case, no Vietnamese marks, `đ` as `d`, cut at every character that is
-- not a letter or a digit, joined by single spaces), so a query and the text it looks in
-- are folded by the same code and the database compares them as they are. The rows that
-- exist already are folded once below, in SQL.
--
-- On a large table this migration is slow and blocks writes to `messages` while it runs:
-- it rewrites the table and rebuilds its indexes. See docs/database.md for what it costs.

-- The tsvector of folded words: one lexeme per distinct word, no positions (nothing ranks
-- by them) and no dictionary, so no word is dropped as a stop word. A word longer than a
-- lexeme can be (2,047 bytes) is left out of it rather than failing the insert.
CREATE FUNCTION chat_search_vector(search_text text) RETURNS tsvector
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN array_to_tsvector(ARRAY(
        SELECT word FROM unnest(string_to_array(search_text, ' ')) AS word
        WHERE word <> '' AND octet_length(word) <= 2047));

-- One rewrite of the table fills both columns for the rows that exist: the type change
-- with USING computes `search_text` from `body`, and the generated column is computed from
-- the new row. (An UPDATE before the rewrite would write every row twice.)
ALTER TABLE messages ADD COLUMN search_text text NOT NULL DEFAULT '';
ALTER TABLE messages
    -- The same folding as the application's for Latin script, Vietnamese included:
    -- decompose, drop combining marks and invisible characters, lower case, `đ` as `d`,
    -- anything but letters and digits as one space. (For marks of other scripts and a few
    -- numerals such as `²` it may differ, until the message is edited.)
    ALTER COLUMN search_text TYPE text USING coalesce(btrim(regexp_replace(
        translate(lower(regexp_replace(normalize(body, NFD),
            '[\u0300-\u036F\u1AB0-\u1AFF\u1DC0-\u1DFF\u20D0-\u20FF\uFE20-\uFE2F\u00AD\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]',
            '', 'g')), 'đ', 'd'),
        '[^[:alnum:]]+', ' ', 'g')), ''),
    ADD COLUMN search_vector tsvector NOT NULL GENERATED ALWAYS AS (chat_search_vector(search_text)) STORED;

-- New entries wait in each GIN index's pending list until it is merged, and every search
-- through the index reads the whole list: at the default limit (4 MB, some 8,000 messages)
-- that added tens of milliseconds to a search under a steady stream of sends. 256 kB keeps
-- the list to a few hundred messages; the merges come more often, and a send costs the same.
CREATE INDEX messages_search_vector ON messages USING gin (search_vector) WITH (gin_pending_list_limit = 256);
CREATE INDEX messages_search_text_trgm ON messages USING gin (search_text gin_trgm_ops)
    WITH (gin_pending_list_limit = 256);
CREATE INDEX messages_conversation_time ON messages (conversation_id, created_at);

-- How many messages the planner expects to match a search's words (`query`, the last word
-- as a prefix) or its phrase inside words (`pattern`, a LIKE pattern, or null): from the
-- statistics of the two columns, without running anything. Whether the GIN indexes are the
-- cheap way in depends on it. Volatile only because EXPLAIN may not run in anything else.
CREATE FUNCTION chat_search_estimate(query tsquery, pattern text) RETURNS bigint
    LANGUAGE plpgsql
AS $$
DECLARE
    plan json;
BEGIN
    IF pattern IS NULL THEN
        EXECUTE 'EXPLAIN (FORMAT JSON) SELECT FROM messages WHERE search_vector @@ $1'
            INTO plan USING query;
    ELSE
        EXECUTE 'EXPLAIN (FORMAT JSON) SELECT FROM messages WHERE search_vector @@ $1 OR search_text LIKE $2'
            INTO plan USING query, pattern;
    END IF;
    RETURN (plan -> 0 -> 'Plan' ->> 'Plan Rows')::numeric;
END
$$;
