"""Lesson 07 walks through glm_client.py and uses it; it must not carry a copy of it.

glm_client.py itself is tested in test_glm_client.py. Here: the lesson defines none of the
module's names (it shows them with inspect instead), its map of the parts names exactly the
module's public names, it prints reasoning with the module's Printer (no printer of its own),
the lesson's own code (the weather tool loop) runs from the notebook against the lesson's
recordings, and the claims its exercises make hold.
"""

import ast
import re

import nbformat
import pytest

import glm_client
import glm_offline
from helpers import NOTEBOOKS, lesson_cells, run_lesson_cells

LESSON = "07-client.ipynb"
LANGUAGES = ("en", "zh")
GREY, RESET = "\x1b[38;5;245m", "\x1b[0m"  # glm_client.Printer's
DIM, BRIGHT_BLACK = "\x1b[2m", "\x1b[90m"  # gone from the lessons: almost black in JupyterLab
TIPS = {"en": "In one sentence, give three tips for calling an API reliably.",
        "zh": "用一句话给出可靠调用 API 的三条建议。"}
UMBRELLA = {"en": "Do I need an umbrella in Shanghai right now?", "zh": "上海现在需要带伞吗？"}
UMBRELLA_ANSWER = {
    "en": "It's cloudy in Shanghai right now, at 26 °C, and no rain is reported, so you can "
          "probably leave the umbrella at home.",
    "zh": "上海现在多云，气温 26 °C，没有降雨的报告，所以大概可以不带伞。"}
CITY = {"en": "Shanghai", "zh": "上海"}


def lesson(language):
    return run_lesson_cells(language, LESSON, ["lesson-client"])


def client_for(server, **options):
    return glm_client.GLMClient(server.base_url, server.api_key, timeout=(2, 5), **options)


@pytest.fixture(scope="module")
def strict():
    with glm_offline.start(pacing="instant", strict=True) as running:
        yield running


# -- the lesson uses the module, it does not copy it ------------------------------------
def defined_names(source):
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {target.id for target in node.targets if isinstance(target, ast.Name)}
    return names


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_lesson_defines_none_of_the_modules_names(language):
    cells = lesson_cells(language, LESSON, ["lesson-client"])
    code = [cell.source for cell in notebook(language) if cell.cell_type == "code"]
    assert cells and len(code) > len(cells)
    module = {name for name in vars(glm_client) if not name.startswith("__")}
    retyped = set().union(*(defined_names(source) for source in code)) & module
    assert not retyped, f"{language}/{LESSON} re-types {sorted(retyped)} from glm_client.py"


def notebook(language):
    return nbformat.read(NOTEBOOKS / language / LESSON, as_version=4).cells


def map_table(language):
    """The names in the third column of the lesson's map of glm_client.py's parts."""
    tables = [cell.source for cell in notebook(language)
              if cell.cell_type == "markdown" and "|---|" in cell.source
              and "`merge_tool_call_fragments`" in cell.source]
    assert len(tables) == 1, f"{language}: expected one map of the parts"
    rows = [line for line in tables[0].splitlines() if re.match(r"\| \d\. ", line)]
    return {name for row in rows for name in re.findall(r"`(\w+)`", row.split("|")[3])}


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_map_names_exactly_the_modules_public_names(language):
    named = map_table(language)
    assert named == set(glm_client.__all__), (
        f"in the map, not public: {sorted(named - set(glm_client.__all__))}; "
        f"public, not in the map: {sorted(set(glm_client.__all__) - named)}")


def test_a_map_that_misses_a_name_is_caught():
    """The map check can fail: a module name left out is reported."""
    assert map_table("en") - {"GLMAuth"} != set(glm_client.__all__)


# -- the reasoning printer (glm_client's part 8), fed the lesson's thinking streams ------------
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_lesson_prints_reasoning_with_the_modules_printer_and_no_dim_of_its_own(language):
    code = [cell.source for cell in notebook(language) if cell.cell_type == "code"]
    assert not any(DIM in source or BRIGHT_BLACK in source for source in code)
    streamed = [source for source in code if "on_reasoning=printer.reasoning" in source]
    assert len(streamed) == 2  # the recipe and section 3
    assert all("from glm_client import" in source and "Printer" in source
               for source in streamed)


@pytest.mark.parametrize("language", LANGUAGES)
def test_reasoning_is_grey_and_the_answer_starts_on_its_own_line(language, strict, capsys):
    printer = glm_client.Printer()
    answer = client_for(strict).stream([{"role": "user", "content": TIPS[language]}],
                                       on_reasoning=printer.reasoning,
                                       on_content=printer.content)
    out = capsys.readouterr().out
    assert answer.reasoning and answer.content
    greyed, _, rest = out.rpartition(RESET + "\n")
    assert rest == answer.content  # the answer whole, after one line break
    assert greyed.startswith(GREY)
    assert (greyed + RESET).replace(GREY, "").replace(RESET, "") == answer.reasoning


def test_a_stream_that_opens_with_an_empty_answer_and_a_newline_of_reasoning(capsys):
    """glm-4.5-flash's first delta is {"content": "", "reasoning_content": "\\n"}
    (docs/sources.md#thinking): the empty content must not start the answer's line early."""
    printer, pieces = glm_client.Printer(), []

    def on_content(text):
        pieces.append(text)
        printer.content(text)

    with glm_offline.start(pacing="instant", strict=False) as server:  # a generated reply
        answer = client_for(server, model="glm-4.5-flash").stream(
            [{"role": "user", "content": "Say hello in five words."}],
            on_reasoning=printer.reasoning, on_content=on_content)
    assert answer.reasoning.startswith("\n") and answer.content
    assert "" not in pieces and "".join(pieces) == answer.content
    assert capsys.readouterr().out.endswith(RESET + "\n" + answer.content)


# -- the weather tool loop ----------------------------------------------------------------
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_tool_loop_sends_the_reasoning_back_and_gets_the_recorded_answer(language, strict,
                                                                              capsys):
    # strict: the second request matches its recording only if it carries the assistant
    # turn with its reasoning_content and the tool's result, as the lesson sends them.
    ns = lesson(language)
    answer = ns.ask_with_tools(client_for(strict).chat, UMBRELLA[language])
    assert answer.content == UMBRELLA_ANSWER[language] and answer.reasoning
    assert CITY[language] in capsys.readouterr().out


def test_the_tool_loop_runs_every_call_and_keeps_ids_and_order():
    ns = lesson("en")
    seen = []
    calls = [{"id": "call_a", "index": -1, "type": "function",
              "function": {"name": "get_weather", "arguments": '{"city": "Beijing"}'}},
             {"id": "call_b", "index": -1, "type": "function",
              "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]
    replies = [glm_client.Answer(reasoning="two cities", tool_calls=calls,
                                 finish_reason="tool_calls"),
               glm_client.Answer(content="Done.", finish_reason="stop")]

    def send(messages, **options):
        seen.append([dict(message) for message in messages])
        assert options == {"tools": [ns.WEATHER_TOOL]}
        return replies[len(seen) - 1]

    assert ns.ask_with_tools(send, "Beijing and Paris?").content == "Done."
    assistant, first, second = seen[1][1:]
    assert assistant["reasoning_content"] == "two cities"
    assert all("index" not in call for call in assistant["tool_calls"])
    assert (first["tool_call_id"], second["tool_call_id"]) == ("call_a", "call_b")
    assert '"sunny"' in first["content"] and "no weather data" in second["content"]


# -- what the exercises claim -------------------------------------------------------------
@pytest.mark.parametrize("language, city", [("en", "Beijing"), ("zh", "北京")])
def test_exercise_1_the_tool_stream_fragments_become_one_call(language, city, strict):
    ns = lesson(language)
    question = {"en": "What's the weather like in Beijing right now?",
                "zh": "北京现在天气怎么样？"}[language]
    reply = client_for(strict).stream([{"role": "user", "content": question}],
                                      tools=[ns.WEATHER_TOOL], tool_stream=True,
                                      thinking={"type": "disabled"})
    (call,) = reply.tool_calls
    assert call["function"]["name"] == "get_weather"
    assert call["function"]["arguments"] == f'{{"city": "{city}"}}'


def connections_for_three_streams(server):
    client = client_for(server)
    since = len(server.history)
    for _ in range(3):
        client.stream([{"role": "user", "content": TIPS["en"]}])
    seen = server.wait_for_exchanges(since + 3)[since:]
    return len({exchange.connection for exchange in seen})


def test_exercise_3_streams_share_a_connection_only_when_read_to_the_end(monkeypatch):
    with glm_offline.start(pacing="instant", strict=True) as own:
        assert connections_for_three_streams(own) == 1
        monkeypatch.setattr(glm_client, "_read_to_end", lambda raw: None)
        assert connections_for_three_streams(own) == 3
