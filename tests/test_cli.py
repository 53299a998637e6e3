import subprocess
import sys

from PIL import Image

from sdopt.cli import main


def test_list_prints_one_line_per_variant(capsys):
    import sdopt
    assert main(["list"]) == 0
    variants, _, runtimes = capsys.readouterr().out.strip().partition("\n\n")
    lines = variants.splitlines()
    assert len(lines) == len(sdopt.REGISTRY) and lines[0].startswith("torch-fp32")
    assert next(line for line in lines if line.startswith("ov-tome-int8-ptq ")).split()[2] == "save>export>tome>ptq"
    assert "also runs on genai: NAME[runtime=genai]" in runtimes


def test_generate_on_genai(shared_cache, tmp_path, capsys):
    out = tmp_path / "bird.png"
    assert main(["generate", "ov-fp32[runtime=genai]", "--prompt", "a cartoon bird", "--steps", "2", "--scheduler",
                 "euler", "--cache", str(shared_cache.root), "--out", str(out)]) == 0
    assert Image.open(out).size == (128, 128)


def test_build_prints_the_cached_folder(shared_cache, tiny_artifacts, capsys):
    assert main(["build", "ov-fp32", "--model", "tiny", "--cache", str(shared_cache.root)]) == 0
    assert capsys.readouterr().out.strip() == str(tiny_artifacts["ov-fp32"])


def test_generate_writes_an_image_and_its_time(shared_cache, tiny_artifacts, tmp_path, capsys):
    out = tmp_path / "bird.png"
    assert main(["generate", "ov-int8-ptq", "--prompt", "a cartoon bird", "--steps", "2", "--scheduler", "euler",
                 "--cache", str(shared_cache.root), "--out", str(out)]) == 0
    assert Image.open(out).size == (128, 128)
    assert "s" in capsys.readouterr().out.split(",")[-1]


def test_bad_input_is_one_line_and_exit_2(shared_cache, tmp_path, capsys):
    common = ["--cache", str(shared_cache.root), "--out", str(tmp_path / "x.png"), "--prompt", "x"]
    assert main(["generate", "ov-fp32", "--steps", "0"] + common) == 2
    assert "steps must be at least 1" in capsys.readouterr().err
    assert main(["generate", "ov-fp32", "--scheduler", "heun"] + common) == 2
    assert "valid schedulers" in capsys.readouterr().err
    assert main(["build", "ov-fp33"]) == 2
    assert "valid variants" in capsys.readouterr().err
    assert main(["generate", "ov-fp32", "--model", str(tmp_path)] + common) == 2
    assert "no model_index.json" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_console_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "sdopt", "list"], capture_output=True, text=True)
    assert result.returncode == 0 and "ov-int8-ptq" in result.stdout
