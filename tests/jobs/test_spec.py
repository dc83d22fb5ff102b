"""Job specs from jobs.toml and the parameters a run may take, checked before any kernel starts."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from bifrost.errors import InvalidInputError, NotFoundError
from bifrost.jobs import JobSpec, declared_parameters, load_jobs, validate_parameters
from tests.jobs.conftest import NOTEBOOKS


def _notebook(path: Path, parameters: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell("print(1)")]
    nbformat.write(nb, str(path))
    return path


@pytest.fixture
def spec(tmp_path: Path) -> JobSpec:
    notebook = _notebook(
        tmp_path / "p.ipynb",
        'n_days = 5\nratio = 0.5\nflag = False\nsymbols = ["ORCL"]\nstart = "2014-01-02"\npath = None\n'
        'limits = {"var": 0.02}\nas_of = None\nlabel = "x"\nrun_id = None\noutput_dir = None\n',
    )
    return JobSpec(name="p", notebook=notebook, parameters={"n_days": 7})


def _toml(tmp_path: Path, text: str) -> Path:
    (tmp_path / "jobs.toml").write_text(text)
    _notebook(tmp_path / "a.ipynb", "n = 1\n")
    return tmp_path


def test_load_jobs_tests_folder_reads_every_key() -> None:
    jobs = load_jobs(NOTEBOOKS)
    assert list(jobs)[:4] == ["ingest", "hang", "die", "chain"]
    ingest, die, chain = jobs["ingest"], jobs["die"], jobs["chain"]
    assert ingest.schedule == "30 6 * * 1-5" and ingest.timezone == "America/New_York" and ingest.timeout_s == 120
    assert ingest.notebook == NOTEBOOKS.resolve() / "ingest.ipynb" and dict(ingest.parameters) == {"symbol": "ORCL"}
    assert die.retries == 1 and die.backoff_s(1) == 7 and die.backoff_s(2) == 14
    assert chain.steps == ("ingest", "die", "hang") and chain.to_dict()["steps"] == ["ingest", "die", "hang"]


def test_load_jobs_env_folder_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIFROST_JOBS_DIR", str(NOTEBOOKS))
    assert "hang" in load_jobs()


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ('[jobs.a]\nnotebook = "a.ipynb"\ntimout_s = 3\n', r"jobs.toml: job 'a': unknown key 'timout_s'"),
        ('[jobs.a]\nnotebook = "a.ipynb"\nschedule = "61 * * * *"\n', r"job 'a': schedule: expected a cron"),
        ('[jobs.a]\nnotebook = "a.ipynb"\ntimezone = "Mars/Olympus"\n', r"job 'a': timezone: unknown time zone"),
        ('[jobs.a]\nnotebook = "b.ipynb"\n', r"job 'a': key 'notebook': no notebook at .*b.ipynb"),
        ('[jobs.a]\nnotebook = "a.ipynb"\nsteps = ["zz"]\n', r"job 'a': key 'steps': unknown job 'zz'"),
        ('[jobs.a]\nnotebook = "a.ipynb"\nretries = -1\n', r"job 'a': retries must be an integer in 0..10"),
        ('[jobs.a]\nnotebook = "a.ipynb"\ntimeout_s = 0\n', r"job 'a': timeout_s must be a positive number"),
        ('[jobs.a]\nnotebook = "a.ipynb"\n[jobs.a.parameters]\nrun_id = "x"\n', r"'run_id' is filled by the runner"),
        ("[jobs.a\n", r"jobs.toml: not valid TOML"),
        ('[job.a]\nnotebook = "a.ipynb"\n', r"unknown top-level key\(s\) \['job'\]"),
    ],
)
def test_load_jobs_bad_file_names_file_job_and_key(tmp_path: Path, body: str, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        load_jobs(_toml(tmp_path, body))


def test_load_jobs_no_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"no jobs.toml in"):
        load_jobs(tmp_path)


def test_declared_parameters_types_from_defaults(spec: JobSpec) -> None:
    declared = declared_parameters(spec.notebook)
    kinds = {name: (p.kind, p.nullable, p.is_date) for name, p in declared.items()}
    assert kinds["n_days"] == ("int", False, False)
    assert kinds["ratio"] == ("float", False, False)
    assert kinds["symbols"] == ("list", False, False)
    assert kinds["start"] == ("str", False, True)
    assert kinds["as_of"] == ("any", True, True)
    assert kinds["path"] == ("any", True, False)
    assert kinds["limits"] == ("dict", False, False)


def test_validate_parameters_text_read_as_declared_types(spec: JobSpec) -> None:
    given = {
        "ratio": "0.25", "flag": "true", "symbols": "ORCL,NVDA", "start": "2014-06-02", "path": "/data/x.csv",
        "limits": '{"var": 0.03}', "as_of": "2014-12-31",
    }  # fmt: skip
    assert validate_parameters(spec, given) == {
        "n_days": 7, "ratio": 0.25, "flag": True, "symbols": ["ORCL", "NVDA"], "start": "2014-06-02",
        "path": "/data/x.csv", "limits": {"var": 0.03}, "as_of": "2014-12-31",
    }  # fmt: skip
    assert validate_parameters(spec, {"symbols": '["A", "B"]', "n_days": 3, "ratio": 1}) == {
        "n_days": 3, "symbols": ["A", "B"], "ratio": 1.0,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("given", "match"),
    [
        ({"n_dayz": "3"}, r"job 'p': parameter 'n_dayz' is not declared by p.ipynb; it declares: as_of, flag"),
        ({"n_days": "ten"}, r"parameter 'n_days': expected an integer"),
        ({"n_days": "1.5"}, r"parameter 'n_days': expected an integer"),
        ({"n_days": True}, r"parameter 'n_days': expected int, got True"),
        ({"ratio": "inf"}, r"parameter 'ratio': expected a finite number"),
        ({"flag": "maybe"}, r"parameter 'flag': expected true or false"),
        ({"start": "2014-13-45"}, r"parameter 'start': expected a date such as 2014-06-02, got '2014-13-45'"),
        ({"as_of": "garbage"}, r"parameter 'as_of': expected a date"),
        ({"start": None}, r"parameter 'start': expected str, got None"),
        ({"run_id": "x"}, r"parameter 'run_id' is filled by the runner"),
        ({"output_dir": "/tmp"}, r"parameter 'output_dir' is filled by the runner"),
        ({"limits": "[1,"}, r"parameter 'limits': expected a dict"),
        ({"label": object()}, r"parameter 'label': expected str"),
    ],
)
def test_validate_parameters_bad_value_names_job_and_parameter(spec: JobSpec, given: dict, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        validate_parameters(spec, given)


def test_jobspec_bad_name_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"a job's name is a letter"):
        JobSpec(name="1 bad", notebook=tmp_path / "x.ipynb")


def test_validate_parameters_config_refuses_what_the_notebook_would() -> None:
    jobs = load_jobs(NOTEBOOKS.parents[2] / "papermill_jobs")
    assert jobs["daily_ingest"].config == "DailyIngestConfig"
    with pytest.raises(InvalidInputError, match=r"daily_ingest: n_days must be an integer from 2 to 100,000"):
        validate_parameters(jobs["daily_ingest"], {"n_days": "1"})
    with pytest.raises(InvalidInputError, match=r"risk_report: confidence must be between 0 and 1, got 1.5"):
        validate_parameters(jobs["risk_report"], {"confidence": "1.5"})
    assert validate_parameters(jobs["daily_ingest"], {"n_days": "30"})["n_days"] == 30


def test_validate_parameters_unknown_config_class_refused(spec: JobSpec) -> None:
    import dataclasses

    with pytest.raises(InvalidInputError, match=r"job 'p': config: bifrost.jobs has no config class 'NoSuchConfig'"):
        validate_parameters(dataclasses.replace(spec, config="NoSuchConfig"))
    with pytest.raises(InvalidInputError, match=r"config must name a config class"):
        dataclasses.replace(spec, config="not a name")
