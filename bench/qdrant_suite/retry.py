"""Quiver's stand-in for the `retry` package (not installed here): the same decorator shape."""
import functools
import time


def retry(exceptions=Exception, tries=-1, delay=0, backoff=1, **_):
    def deco(f):
        @functools.wraps(f)
        def run(*a, **k):
            left, wait = tries, delay
            while True:
                try:
                    return f(*a, **k)
                except exceptions:
                    left -= 1
                    if left == 0:
                        raise
                    time.sleep(wait)
                    wait *= backoff
        return run
    return deco
