"""The pipeline: the six stages (`stages/`: base training, subset collection, autoencoder, diffusion,
generation, evaluation), each a generator of events over explicit inputs; the context that loads those inputs
from the project; the preflight check; and `runner.run`, which runs the stages that are not done."""
