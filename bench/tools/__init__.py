"""Commands that measure the shapes model to choose or ship it (`bench choose-guidance`, `bench ship-shapes`)."""
