"""The OpenVINO GenAI layer: an OpenVINO variant with what GenAI's Text2ImagePipeline needs beside the IRs (the
tokenizer as an OpenVINO model). Put over any OpenVINO variant asked for with runtime=genai."""
from .. import families, progress
from ..artifacts import link_copy
from ..backends.genai_backend import TOKENIZER_IR, layout_problems, standard_unet_problem
from ..errors import BadArgument
from ..export import export_tokenizer
from ..ir import IR
from .base import BuildContext, Method

LAYER = "genai-files"  # not a recipe's method


def genai_files(ctx: BuildContext) -> None:
    """A variant GenAI cannot drive is refused before anything is written."""
    problems = layout_problems(ctx.base)
    if not problems:
        problems = list(filter(None, [standard_unet_problem(ctx.base / "unet" / IR)]))
    if problems:
        raise BadArgument(f"{ctx.recipe.name} cannot run on OpenVINO GenAI: " + "; ".join(problems))
    link_copy(ctx.base, ctx.out)
    with progress.stage("converting the tokenizers to OpenVINO models (openvino-tokenizers) for GenAI"):
        for name in families.of_folder(ctx.base).tokenizers:
            export_tokenizer(ctx.base / name, ctx.out / name / TOKENIZER_IR)


METHODS = {("genai", LAYER): Method(genai_files, stage="genai-files")}
