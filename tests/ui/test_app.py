"""The app on the tiny random zoo (tests/tiny_zoo.py): handlers called directly (results cache, live ablations,
errors), and the served app (app.py) driven by gradio_client and by Debian's headless Chromium through Playwright."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from neuroclips.pipeline.export import read_mp4

FAST = {"num_inference_steps": 2, "keyframe_steps": 2, "prior_steps": 2}
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("NEUROCLIPS_TEST_ARTIFACTS", ROOT / "test-artifacts"))


@pytest.fixture(scope="module")
def studio(tiny_zoo, tmp_path_factory):
    from neuroclips.ui.studio import Studio

    return Studio(zoo=tiny_zoo.name, results_root=tmp_path_factory.mktemp("results"), defaults=FAST)


@pytest.fixture(scope="module")
def handlers(studio):
    from neuroclips.ui.app import make_handlers

    return make_handlers(studio)


ARGS = dict(subject=1, clip=42, use_blurry=True, alpha_mode="code_parity", alpha_strength=0.3, use_keyframe=True,
            controlnet_conditioning_scale=1.0, use_caption=True, caption_source="keyframe", seed=0)


def _call(handlers, **changes):
    return handlers.reconstruct(**{**ARGS, **changes}, progress=lambda *a, **k: None)


def test_reconstruct_returns_playable_videos_metrics_and_caches(handlers, studio):
    panel, final, blurry, gt, keyframe, caption, metrics, timings = _call(handlers)
    for path, n in ((final, 16), (blurry, 16), (gt, 16), (panel, 16)):
        frames, fps = read_mp4(path)
        assert len(frames) == n and fps == 8
    assert read_mp4(panel)[0].shape[2] > read_mp4(final)[0].shape[2] * 2.5  # GT | blurry | final side by side
    assert Path(keyframe).suffix == ".png" and "Caption (γ):" in caption
    assert "| final |" in metrics and "| blurry |" in metrics and "ranks" in metrics and "Stage times" in timings
    # the same request again comes from the results store (its latency is measured, not asserted, see README)
    again = _call(handlers)
    assert again[1] == final and "results cache" in again[-1]


def test_an_ablation_toggle_reruns_only_the_video(handlers, studio):
    base = studio.reconstruct(1, 42, seed=0)
    no_kf = _call(handlers, use_keyframe=False, use_caption=False)
    record = studio.reconstruct(1, 42, seed=0, use_keyframe=False, use_caption=False)
    assert record["reused_stages"] == ["blurry", "keyframe", "caption"] and set(record["timings_seconds"]) == {"video", "total"}
    assert record["settings"]["video_controlnet_calls"] == 0 and record["caption"] is None
    assert not np.array_equal(read_mp4(no_kf[1])[0], read_mp4(base["files"]["video"])[0])
    assert no_kf[4] is None  # no keyframe shown when β and γ are off
    kept = studio.reconstruct(1, 42, seed=0, use_keyframe=False, use_caption=True)  # γ alone still needs the keyframe
    assert kept["caption"] == base["caption"] and kept["settings"]["video_controlnet_calls"] == 0
    gt_caption = studio.reconstruct(1, 42, seed=0, caption_source="ground truth")
    assert gt_caption["caption"] == gt_caption["gt_caption"] and gt_caption["prompt"].startswith(gt_caption["gt_caption"])


@pytest.mark.parametrize("changes,message", [({"clip": 5000}, "out of range"), ({"subject": 8}, "subject"),
                                             ({"alpha_mode": "eq7"}, "alpha_mode"), ({"clip": None}, "clip number")])
def test_bad_input_is_a_clear_error(handlers, changes, message):
    with pytest.raises(gr.Error, match=message):
        _call(handlers, **changes)


def test_only_known_zoos_name_the_served_folder(tmp_path, monkeypatch):
    from neuroclips.ui.studio import Studio, choose_zoo

    monkeypatch.setenv("NEUROCLIPS_ZOO", "../..")
    with pytest.raises(ValueError, match="NEUROCLIPS_ZOO='../..' is not a model zoo: set it to one of .*mini"):
        choose_zoo()
    with pytest.raises(ValueError, match="unknown model zoo '/etc'"):
        Studio(zoo="/etc", results_root=tmp_path)
    from neuroclips.zoo import Zoo, register_zoo

    with pytest.raises(ValueError, match="plain folder name"):
        register_zoo(Zoo(name="../x", description="", load=None, root=None, reconstructors_root=None))


def test_full_zoo_without_weights_or_data_says_what_to_do(tmp_path, monkeypatch):
    """On a host without the full zoo's files the app names the missing files and the download command."""
    from neuroclips.ui.app import make_handlers
    from neuroclips.ui.studio import Studio

    monkeypatch.delenv("NEUROCLIPS_DATA", raising=False)
    monkeypatch.delenv("NEUROCLIPS_CC2017_ROOT", raising=False)
    with pytest.raises(ValueError, match="NEUROCLIPS_CC2017_ROOT"):  # the full zoo's subjects are cc2017's
        Studio(zoo="full", results_root=tmp_path)
    monkeypatch.setenv("NEUROCLIPS_DATA", "simulated")
    monkeypatch.setenv("NEUROCLIPS_FULL_ZOO", str(tmp_path / "empty"))
    studio = Studio(zoo="full", results_root=tmp_path / "results", defaults=FAST)
    assert "weights download --zoo full" in studio.preload()  # the app starts, and says why the zoo is not ready
    with pytest.raises(gr.Error, match="python -m neuroclips weights download --zoo full"):
        _call(make_handlers(studio))


def test_long_video_brain_search_and_about(handlers, studio):
    video, text, keyframes = handlers.long_video(1, 42, 2, "cosine", 0)
    assert len(read_mp4(video)[0]) == 32 and "42 → 43" in text and len(keyframes) == 2
    with pytest.raises(gr.Error, match="2 or 3"):
        handlers.long_video(1, 42, 5, "cosine", 0)
    flat, bars = handlers.flatmaps(1)
    assert len(flat.data) > 0 and len(bars.data) == 4
    gallery, hits = handlers.search(1, "horse")
    assert hits and all("horse" in label for _, label in gallery)
    assert "tiny" in handlers.about() and "SHA-256" in handlers.about()


def test_results_store_is_atomic_and_keeps_the_first_writer(tmp_path):
    from neuroclips.results import ResultsStore

    store = ResultsStore(tmp_path)
    key = "ab" * 10

    def write(value):
        def fill(folder):
            (folder / "x.txt").write_text(value)
            (folder / "reconstruction.json").write_text(json.dumps({"files": {"x": "x.txt"}, "v": value}))
        return fill

    assert store.get(key) is None
    assert store.put(key, write("first"))["v"] == "first"
    assert store.put(key, write("second"))["v"] == "first" and store.keys() == [key]

    def broken(folder):
        (folder / "x.txt").write_text("half")
        raise RuntimeError("crash while writing")

    with pytest.raises(RuntimeError):
        store.put("cd" * 10, broken)
    assert store.get("cd" * 10) is None and store.keys() == [key]
    with pytest.raises(ValueError):
        store.path("../etc")
    # an unreadable leftover under a key is moved aside, not kept forever
    (tmp_path / ("ef" * 10)).mkdir()
    (tmp_path / ("ef" * 10) / "junk").write_text("x")
    assert store.put("ef" * 10, write("fresh"))["v"] == "fresh"


# ---------------------------------------------------------------------------------------------------- served app
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served_app(tiny_zoo, tmp_path_factory):
    """app.py as a user starts it, serving the tiny zoo (registered in the server process by tests/tiny_zoo.py)."""
    port = _free_port()
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), NEUROCLIPS_STEPS="2", HF_HUB_OFFLINE="1",
               GRADIO_ANALYTICS_ENABLED="False", NEUROCLIPS_ZOO=tiny_zoo.name, NEUROCLIPS_MCP="1",
               NEUROCLIPS_TINY_RECONSTRUCTORS=str(tiny_zoo.reconstructors_root()))
    log = tmp_path_factory.mktemp("app") / "app.log"
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "tests.tiny_zoo", "app.py"], cwd=ROOT, env=env, stdout=open(log, "w"),
                            stderr=subprocess.STDOUT)
    from gradio_client import Client

    client = None
    while time.perf_counter() - start < 180:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited: {log.read_text()[-2000:]}")
        try:
            client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            break
        except Exception:
            time.sleep(1)
    ready = time.perf_counter() - start
    if client is None:
        proc.kill()
        raise RuntimeError(f"app.py did not come up in 180 s: {log.read_text()[-2000:]}")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "app-ready-seconds.txt").write_text(f"{ready:.1f}\n")  # reported, not asserted
    yield {"url": f"http://127.0.0.1:{port}/", "client": client}
    proc.terminate()
    proc.wait(timeout=30)


def test_api_reconstruct_endpoint(served_app):
    client = served_app["client"]
    assert "/reconstruct" in client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    out = client.predict(1, 7, True, "code_parity", 0.3, True, 1.0, True, "keyframe", 0, api_name="/reconstruct")
    final = out[1]
    final_path = final["video"] if isinstance(final, dict) else final
    assert len(read_mp4(final_path)[0]) == 16 and "Caption" in out[5]


def test_served_mcp_schema_lists_the_three_tools(served_app):
    import httpx

    response = httpx.get(served_app["url"] + "gradio_api/mcp/schema", timeout=60)
    assert response.status_code == 200
    tools = response.json()
    assert [t["name"] for t in tools] == ["reconstruct", "long_video", "flatmaps"]
    (ARTIFACTS / "mcp-schema.json").write_text(json.dumps(tools, indent=1, ensure_ascii=False))


def test_an_mcp_client_lists_and_calls_the_tools(served_app):
    """Through the MCP protocol (streamable HTTP), as an agent connects: the server checks the arguments against
    the schema, so the schema's types must admit the values the tools take."""
    import asyncio

    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async def session():
        async with streamablehttp_client(served_app["url"] + "gradio_api/mcp/") as (read, write, _):
            async with ClientSession(read, write) as s:
                await s.initialize()
                tools = (await s.list_tools()).tools
                called = await s.call_tool("flatmaps", {"subject": "1"})
                refused = await s.call_tool("reconstruct", {"subject": "1", "clip": 5000, "seed": 0})
                return tools, called, refused

    tools, called, refused = asyncio.run(session())
    assert [t.name for t in tools] == ["reconstruct", "long_video", "flatmaps"]
    assert not called.isError and "plotly" in called.content[0].text
    assert refused.isError and "1199" in refused.content[0].text  # a clear refusal, not a traceback


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_browser_reconstruct_toggle_and_brain(served_app):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless=new"])
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.goto(served_app["url"])
        page.get_by_label("Test clip (0-1199)").fill("12")
        page.get_by_role("button", name="Reconstruct").click()
        panel = page.locator("#side-by-side video")
        panel.wait_for(timeout=120_000)
        duration = page.wait_for_function(
            "() => { const v = document.querySelector('#side-by-side video'); return v && v.duration > 0 && v.duration }",
            timeout=60_000).json_value()
        assert duration > 0
        page.screenshot(path=str(ARTIFACTS / "reconstruct.png"), full_page=True)
        first = panel.get_attribute("src")
        page.get_by_label("β: keyframe (SparseCtrl)").uncheck()
        page.wait_for_function(
            "(old) => { const v = document.querySelector('#side-by-side video'); return v && v.src && v.src !== old }",
            arg=first, timeout=120_000)
        assert page.locator("#timings").inner_text().count("reused") == 1
        page.screenshot(path=str(ARTIFACTS / "ablation.png"), full_page=True)
        page.get_by_role("tab", name="Brain").click()
        page.locator("#flatmap .js-plotly-plot").first.wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "brain.png"), full_page=True)
        browser.close()


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_browser_shared_link_opens_its_reconstruction_and_copy_link_gives_the_settings(served_app):
    from playwright.sync_api import sync_playwright

    link = "?subject=1&clip=12&use_keyframe=0&alpha_mode=sdedit&alpha_strength=0.5&seed=3"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless=new"])
        context = browser.new_context(viewport={"width": 1400, "height": 1800},
                                      permissions=["clipboard-read", "clipboard-write"])
        page = context.new_page()
        page.goto(served_app["url"] + link)
        page.locator("#side-by-side video").wait_for(timeout=120_000)  # the link's reconstruction ran
        assert page.get_by_label("Test clip (0-1199)").input_value() == "12"
        assert not page.get_by_label("β: keyframe (SparseCtrl)").is_checked()
        assert page.get_by_label("α mode").input_value() == "SDEdit"
        assert page.get_by_label("Seed").input_value() == "3"
        assert page.locator("#caption").inner_text().count("Caption") == 1
        page.screenshot(path=str(ARTIFACTS / "shared-link.png"), full_page=True)
        # the copy-link control gives the link of the controls as they are now
        page.get_by_label("Seed").fill("5")
        page.get_by_role("button", name="Copy link").click()
        box = page.locator("#share-link textarea")
        page.wait_for_function("() => { const t = document.querySelector('#share-link textarea'); "
                               "return t && t.value.includes('seed=5') }", timeout=60_000)
        copied = box.input_value()
        assert copied.startswith(served_app["url"] + "?subject=1&clip=12&")
        for part in ("use_keyframe=0", "alpha_mode=sdedit", "alpha_strength=0.5", "use_blurry=1"):
            assert part in copied, copied
        assert page.evaluate("navigator.clipboard.readText()") == copied
        # a bad link says what it could not use, by name
        page.goto(served_app["url"] + "?clip=99999&alpha_mode=eq7")
        problems = page.locator("#link-problems")
        page.wait_for_function("() => { const e = document.querySelector('#link-problems'); "
                               "return e && e.innerText.includes('alpha_mode') }", timeout=60_000)
        assert "clip must be from 0 to 1199" in problems.inner_text()
        assert "Link: " in page.locator(".toast-body").first.inner_text(timeout=30_000)  # the gr.Warning
        page.screenshot(path=str(ARTIFACTS / "bad-link.png"), full_page=True)
        browser.close()
