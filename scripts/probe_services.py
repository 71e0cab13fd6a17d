"""Exit 0 if the named service answers at the URL, else print why and exit 1."""

import sys


def main(kind: str, url: str) -> int:
    try:
        if kind == "postgres":
            import psycopg

            dsn = url.replace("postgres://", "postgresql://", 1)
            with psycopg.connect(dsn, connect_timeout=3) as conn:
                conn.execute("select 1")
        else:
            import redis

            redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        print(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
