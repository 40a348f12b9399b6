"""The pipeline's stages, each a generator `run(ctx) -> Iterator[Event]` returning an info dict."""

from . import autoencoder, base, collect, diffusion, evaluate, generate

RUNNERS = {
    "base": base.run,
    "collect": collect.run,
    "autoencoder": autoencoder.run,
    "diffusion": diffusion.run,
    "generate": generate.run,
    "evaluate": evaluate.run,
}
