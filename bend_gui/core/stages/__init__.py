"""The pipeline's stages, each a generator `run(ctx) -> Iterator[Event]` returning an info dict."""

from . import base, collect

RUNNERS = {
    "base": base.run,
    "collect": collect.run,
}
