"""Shareable links (parsing, building, the page-load handler), the MCP tools' schema, and the page the app serves
when the environment names something it cannot serve."""

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest

from neuroclips.pipeline import GuidanceSettings
from neuroclips.ui.links import LINK_PARAMS, make_link, parse_link

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = GuidanceSettings()


def parse(query: dict):
    return parse_link(query, DEFAULT, [1, 2, 3], lambda subject: 1200)


def test_a_link_round_trips_every_control():
    values = dict(subject=2, clip=42, use_blurry=False, alpha_mode="sdedit", alpha_strength=0.5, use_keyframe=True,
                  controlnet_conditioning_scale=0.7, use_caption=False, caption_source="ground truth", seed=3)
    query = make_link(values)
    assert query.startswith("?subject=2&clip=42&use_blurry=0&alpha_mode=sdedit") and "ground+truth" in query
    from urllib.parse import parse_qsl

    link = parse(dict(parse_qsl(query[1:])))
    assert link.values == values and link.problems == [] and link.runnable
    assert list(link.values) == list(LINK_PARAMS)  # the controls' order, one vocabulary


@pytest.mark.parametrize("query,name,words", [
    ({"clip": "99999"}, "clip", "0 to 1199"),
    ({"clip": "4.5"}, "clip", "whole number"),
    ({"subject": "7"}, "subject", "one of 1, 2, 3"),
    ({"alpha_mode": "eq7"}, "alpha_mode", "must be one of"),
    ({"alpha_strength": "0.01"}, "alpha_strength", "from 0.05 to 1.0"),
    ({"alpha_strength": "nan"}, "alpha_strength", "finite"),
    ({"controlnet_conditioning_scale": "5"}, "controlnet_conditioning_scale", "[0.0, 2.0]"),
    ({"use_blurry": "maybe"}, "use_blurry", "1 or 0"),
    ({"seed": "-1"}, "seed", "from 0"),
    ({"num_inference_steps": "3"}, "num_inference_steps", "no control on this page"),
    ({"clp": "3"}, "clp", "not a link parameter"),
])
def test_a_bad_link_value_is_named_and_not_run(query, name, words):
    link = parse({"subject": "1", **query} if "subject" not in query else query)
    assert len(link.problems) == 1 and link.problems[0].startswith(f"`{name}`") and words in link.problems[0]
    assert name not in link.values and not link.runnable


def test_parameters_of_gradio_and_the_hub_are_not_the_links():
    link = parse({"__theme": "dark", "__sign": "eyJ...", "clip": "7"})
    assert link.values == {"clip": 7} and link.runnable
    assert not parse({"__theme": "dark"}).runnable  # no reconstruction named: nothing runs


@pytest.fixture(scope="module")
def handlers(tiny_zoo, tmp_path_factory):
    from neuroclips.ui.app import make_handlers
    from neuroclips.ui.studio import Studio

    studio = Studio(zoo=tiny_zoo.name, results_root=tmp_path_factory.mktemp("results"),
                    defaults={"num_inference_steps": 2, "keyframe_steps": 2, "prior_steps": 2})
    return make_handlers(studio)


def test_page_load_sets_the_controls_from_the_link(handlers, monkeypatch):
    warnings = []
    monkeypatch.setattr(gr, "Warning", lambda message, *a, **k: warnings.append(message))
    out = handlers.open_link(SimpleNamespace(query_params={"clip": "12", "use_keyframe": "0", "seed": "3"}))
    values = dict(zip(LINK_PARAMS, out))
    assert values["clip"]["value"] == 12 and values["use_keyframe"]["value"] is False and values["seed"]["value"] == 3
    assert values["subject"] == gr.skip() and out[-2] == "" and out[-1] is True and warnings == []
    out = handlers.open_link(SimpleNamespace(query_params={"clip": "99999", "alpha_mode": "sdedit"}))
    assert out[-1] is False and "`clip` must be from 0 to 1199" in out[-2] and dict(zip(LINK_PARAMS, out))[
        "alpha_mode"]["value"] == "sdedit"
    assert warnings and "clip" in warnings[0]
    assert handlers.reconstruct_link(*[None] * 10, False) == tuple(gr.skip() for _ in range(8))
    link = handlers.share_link(1, 12, True, "paper_eq5", 0.4, False, 1.0, True, "keyframe", 3)
    assert parse_link(dict(p.split("=") for p in link[1:].split("&")), DEFAULT, [1], lambda s: 1200).values == dict(
        subject=1, clip=12, use_blurry=True, alpha_mode="paper_eq5", alpha_strength=0.4, use_keyframe=False,
        controlnet_conditioning_scale=1.0, use_caption=True, caption_source="keyframe", seed=3)


def test_mcp_tools_are_the_three_endpoints_with_documented_parameters(handlers, tiny_zoo, tmp_path):
    """The tool list as Gradio's MCP server builds it (the schema /gradio_api/mcp/schema serves)."""
    from gradio.mcp import GradioMCPServer

    from neuroclips.ui.app import build_demo
    from neuroclips.ui.studio import Studio

    demo = build_demo(Studio(zoo=tiny_zoo.name, results_root=tmp_path))
    response = asyncio.run(GradioMCPServer(demo).get_complete_schema(SimpleNamespace(query_params={})))
    tools = {t["name"]: t for t in json.loads(response.body)}
    assert list(tools) == ["reconstruct", "long_video", "flatmaps"]
    params = tools["reconstruct"]["inputSchema"]["properties"]
    assert list(params) == ["subject", "clip", "use_blurry", "alpha_mode", "alpha_strength", "use_keyframe",
                            "controlnet_conditioning_scale", "use_caption", "caption_source", "seed"]
    for tool in tools.values():
        assert tool["description"] and "Returns:" in tool["description"]
        for name, p in tool["inputSchema"]["properties"].items():
            assert len(p.get("description", "")) > 20, (tool["name"], name)
    assert "0 to 1199" in params["clip"]["description"] and "0.05 to 1.0" in params["alpha_strength"]["description"]
    assert params["alpha_mode"]["enum"] == list(GuidanceSettings.choices("alpha_mode")[i][1] for i in range(3))
    assert tools["long_video"]["inputSchema"]["properties"]["n_clips"]["type"] == "number"


# ---------------------------------------------------------------------------------------------------- setup
@pytest.mark.parametrize("env,variable,fix", [
    ({"NEUROCLIPS_ZOO": "fulll"}, "NEUROCLIPS_ZOO='fulll'", "mini"),
    ({"NEUROCLIPS_STEPS": "abc"}, "NEUROCLIPS_STEPS='abc'", "whole number from 1 to 1000"),
    ({"NEUROCLIPS_STEPS": "0"}, "NEUROCLIPS_STEPS='0'", "whole number from 1 to 1000"),
    ({"NEUROCLIPS_DATA": "fmri"}, "NEUROCLIPS_DATA='fmri'", "simulated, cc2017"),
    ({"NEUROCLIPS_ZOO": "full"}, "NEUROCLIPS_CC2017_ROOT", "convert-cc2017"),
    ({"NEUROCLIPS_DATA": "cc2017", "NEUROCLIPS_CC2017_ROOT": "/nonexistent/cc2017"}, "/nonexistent/cc2017", "NEUROCLIPS_CC2017_ROOT"),
])
def test_a_setting_the_app_cannot_serve_is_a_page_not_a_traceback(monkeypatch, tmp_path, env, variable, fix):
    from neuroclips.ui.app import build_app_from_env

    for name in ("NEUROCLIPS_ZOO", "NEUROCLIPS_STEPS", "NEUROCLIPS_DATA", "NEUROCLIPS_CC2017_ROOT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("NEUROCLIPS_CACHE", str(tmp_path))
    app = build_app_from_env()
    assert app.studio is None and variable in app.problem and fix in app.problem
    shown = [b for b in app.demo.blocks.values() if getattr(b, "elem_id", None) == "setup-problem"]
    assert shown and variable in shown[0].value


def test_the_problem_page_is_served_and_the_api_says_it_too(tmp_path):
    """app.py with NEUROCLIPS_ZOO=full and no cc2017 folder starts, and answers with the fix."""
    import socket

    from gradio_client import Client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("NEUROCLIPS_DATA", "NEUROCLIPS_CC2017_ROOT")}
    env.update(NEUROCLIPS_ZOO="full", GRADIO_SERVER_PORT=str(port), NEUROCLIPS_CACHE=str(tmp_path / "cache"))
    log = tmp_path / "app.log"
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    try:
        client, start = None, time.perf_counter()
        while client is None and time.perf_counter() - start < 120:
            assert proc.poll() is None, log.read_text()[-2000:]
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            except Exception:
                time.sleep(0.5)
        assert client is not None, log.read_text()[-2000:]
        with pytest.raises(Exception, match="NEUROCLIPS_CC2017_ROOT"):
            client.predict(api_name="/reconstruct")
        import httpx

        assert "NEUROCLIPS_CC2017_ROOT" in httpx.get(f"http://127.0.0.1:{port}/config", timeout=30).text
        # the start has no traceback (gradio itself logs the gr.Error of each refused call afterwards)
        assert "Traceback" not in log.read_text().split("Running on local URL")[0]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
