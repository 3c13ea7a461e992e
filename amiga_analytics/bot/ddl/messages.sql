CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    timestamp TEXT NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    tokens_input INTEGER,
    tokens_output INTEGER,
    cache_creation_tokens INTEGER,
    cache_read_tokens INTEGER,
    conversation_id TEXT,
    input_method TEXT,
    has_image BOOLEAN DEFAULT 0,
    model TEXT
)
