"""Exit 0 if HOST:PORT can be bound, else say so in one line and exit 1.

`make run` calls it before starting anything, so a taken port gives one clear line instead
of a traceback from the web process while the clusters and the dispatcher start anyway.
"""

import socket
import sys


def main(host: str, port: str, command: str = "make run") -> int:
    try:
        number = int(port)
        if not 0 < number < 65536:
            raise ValueError(port)
    except ValueError:
        print(f"PORT must be a number between 1 and 65535, not {port!r}.")
        return 1
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As the web server binds it: a port in TIME_WAIT after a restart is not "in use".
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, number))
        except OSError as exc:
            print(
                f"Cannot listen on {host}:{number} ({exc.strerror or exc}): stop what runs there "
                f"or pick another port, e.g. {command} PORT={number + 1}"
            )
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
