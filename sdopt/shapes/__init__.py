"""The shapes model: a world of captioned images made from a seed (world.py) and the model trained on it."""
