"""Built-in prompts: calibration prompts are kept apart from evaluation prompts."""

CALIBRATION_PROMPTS = (
    "a red bicycle leaning against a brick wall",
    "a bowl of fruit on a wooden table, oil painting",
    "a snowy mountain village at dusk",
    "portrait of an old fisherman, charcoal sketch",
    "a futuristic city skyline with flying cars",
    "a cat sleeping on a windowsill in the sun",
    "a sailboat on a calm lake at sunrise, watercolor",
    "a plate of sushi, studio photograph",
)

EVALUATION_PROMPTS = (
    "a cartoon bird",
    "a drawing of a green creature with red eyes",
    "a lighthouse on a rocky coast during a storm",
    "a cup of coffee next to an open book",
)
