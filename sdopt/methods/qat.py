"""Quantization-aware training of the UNet (the reference workflow): NNCF fake quantization on the torch UNet,
distillation from the FP32 teacher, EMA weights exported as an int8 IR. The training itself is sdopt/qat.py."""
import json
import shutil

from .. import progress
from ..artifacts import link_copy, torch_artifact_of
from ..cache import key_of
from ..inputs import calibration_samples, training_examples
from ..ir import IR
from ..qat import LOG, Trainer, export_student, quantize_for_training
from .base import BuildContext, Method, token_patched_unet
from .ptq import CALIBRATION


def qat(ctx: BuildContext) -> None:
    from diffusers import DDPMScheduler, UNet2DConditionModel

    recipe, training = ctx.recipe, ctx.recipe.training
    torch_folder = torch_artifact_of(ctx.base)
    calibration = calibration_samples(ctx.base, recipe, ctx.size, ctx.cache, ctx.world, ctx.guidance)
    examples = training_examples(torch_folder, training, ctx.size, ctx.cache)
    teacher = UNet2DConditionModel.from_pretrained(torch_folder / "unet")  # FP32, never token-merged
    student_unet = token_patched_unet(ctx)  # merged before quantization, so training adapts to it
    with progress.stage(f"NNCF fake quantization of the torch UNet on {len(calibration)} calibration samples "
                        f"(overflow_fix={recipe.overflow_fix}, scope={recipe.int8_scope})"):
        student = quantize_for_training(student_unet, calibration, recipe)
    noise_scheduler = DDPMScheduler.from_config(json.loads((torch_folder / "scheduler" /
                                                            "scheduler_config.json").read_text()))
    workdir = ctx.cache.path("training", "qat", key_of({"recipe": ctx.key_material, "base": ctx.base.name,
                                                        "size": list(ctx.size), "data": training.data}))
    trainer = Trainer(student, teacher, examples, noise_scheduler, training, workdir)
    with progress.stage(f"QAT: {training.steps} steps x {training.accumulation} accumulation x batch "
                        f"{training.batch_size} on {len(examples)} examples (lr {training.learning_rate}, "
                        f"task {training.task_weight}, distillation {training.distillation_weight}, "
                        f"EMA {training.ema_decay if training.ema else 'off'}; checkpoints in {workdir})"):
        trainer.run()
    link_copy(ctx.base, ctx.out)
    with progress.stage("exporting the trained UNet (EMA weights) to OpenVINO IR with int8 weights"):
        export_student(trainer.final_module(), ctx.base / "unet" / IR, ctx.out / "unet" / IR)
    shutil.copy2(workdir / LOG, ctx.out / LOG)
    (ctx.out / "training.json").write_text(json.dumps({"settings": ctx.key_material["training"],
                                                       "examples": len(examples),
                                                       "examples_drawn": examples.encoded,
                                                       "float_weights": len(trainer.weights),
                                                       "quantizer_parameters": len(trainer.quantizers)}, indent=1))
    shutil.rmtree(workdir, ignore_errors=True)  # checkpoints are GBs at full scale; the artifact keeps the log


METHODS = {("openvino", "qat"): Method(qat, reads=CALIBRATION, stage="qat")}
