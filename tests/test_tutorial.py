"""The tutorial (docs/tutorial): each chapter's notebook is its script's, and every chapter runs
end to end in its quick setting."""

import os
import pathlib

import pytest

TUTORIAL = pathlib.Path(__file__).resolve().parents[1] / "docs" / "tutorial"
CHAPTERS = sorted(TUTORIAL.glob("[0-9][0-9]_*.py"))
# What a reader has at the end of each chapter, under its OUT folder.
WRITES = {
  "01_data": ["real_digits.png"],
  "02_dcgan": ["dcgan_early.png", "dcgan_final.png", "dcgan_cli"],
  "03_losses_and_tricks": ["losses.png", "tricks_losses.png", "tricks_grids.png"],
  "04_evaluation": ["evaluation_sets.png", "precision_recall.png"],
  "05_conditional_gan": ["cgan_same_noise.png", "cgan"],
  "06_family_tour": ["family_tour.png", "srgan", "pix2pix", "cyclegan", "vae"],
}


def test_every_chapter_has_its_notebook_in_sync():
  jupytext = pytest.importorskip("jupytext")
  assert CHAPTERS
  for script in CHAPTERS:
    notebook = script.with_suffix(".ipynb")
    assert notebook.exists(), (
      f"{notebook.name} is missing: run jupytext --sync {script.relative_to(TUTORIAL.parents[1])}"
    )
    expected = [(c.cell_type, c.source) for c in jupytext.read(script).cells]
    kept = [(c.cell_type, c.source) for c in jupytext.read(notebook).cells]
    assert kept == expected, f"{notebook.name} differs from {script.name}: run jupytext --sync on it"


@pytest.mark.slow
@pytest.mark.parametrize("script", CHAPTERS, ids=[s.stem for s in CHAPTERS])
def test_chapter_runs_in_its_quick_setting(script, mnist_dir, tmp_path, monkeypatch):
  jupytext = pytest.importorskip("jupytext")
  nbclient = pytest.importorskip("nbclient")
  monkeypatch.setenv("TFDS_DATA_DIR", mnist_dir)  # the kernel inherits it: DATA_DIR="" reads it
  notebook = jupytext.read(script)
  client = nbclient.NotebookClient(
    notebook, timeout=1200, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
  )
  client.execute()  # raises CellExecutionError, with the cell and its traceback, on any error
  out = tmp_path / "runs" / "tutorial"
  for name in WRITES.get(script.stem, []):
    assert (out / name).exists(), f"{script.name} did not write {name}"
  assert os.listdir(out)
