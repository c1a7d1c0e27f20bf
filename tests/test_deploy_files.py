"""The deployment files: render.yaml against Render's Blueprint fields, compose.yaml's health
ordering, and the Dockerfile's layering and variants (the image itself: ``make image-check``).

The Blueprint fields below are those documented in Render's Blueprint YAML reference
(render.com/docs/blueprint-spec): the root fields, the service fields (core, Docker, scaling,
build, disk, static site and Key Value fields), the environment-variable forms and the
``fromService`` properties. A field outside these sets is a typo or an undocumented field, which
Render would reject or ignore.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from realtime_stt.app import create_app
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parent.parent

BLUEPRINT_ROOT_FIELDS = {
    "services",
    "databases",
    "envVarGroups",
    "projects",
    "ungrouped",
    "previews",
}
SERVICE_TYPES = {"web", "pserv", "worker", "cron", "keyvalue", "redis"}
RUNTIMES = {"node", "python", "elixir", "go", "ruby", "rust", "docker", "image", "static"}
SERVICE_CORE_FIELDS = {
    "name",
    "type",
    "runtime",
    "plan",
    "previews",
    "buildCommand",
    "startCommand",
    "schedule",
    "preDeployCommand",
    "region",
    "repo",
    "branch",
    "autoDeployTrigger",
    "domains",
    "healthCheckPath",
    "maxShutdownDelaySeconds",
    "envVars",
}
SERVICE_DOCKER_FIELDS = {
    "dockerCommand",
    "dockerfilePath",
    "dockerContext",
    "registryCredential",
    "image",
}
SERVICE_SCALING_BUILD_DISK_FIELDS = {"numInstances", "scaling", "buildFilter", "rootDir", "disk"}
SERVICE_STATIC_FIELDS = {"staticPublishPath", "headers", "routes"}
SERVICE_KEYVALUE_FIELDS = {"ipAllowList", "maxmemoryPolicy", "previewPlan"}
SERVICE_FIELDS = (
    SERVICE_CORE_FIELDS
    | SERVICE_DOCKER_FIELDS
    | SERVICE_SCALING_BUILD_DISK_FIELDS
    | SERVICE_STATIC_FIELDS
    | SERVICE_KEYVALUE_FIELDS
)
ENV_VAR_FIELDS = {
    "key",
    "value",
    "generateValue",
    "sync",
    "fromDatabase",
    "fromService",
    "fromGroup",
}
ENV_VAR_SOURCES = {"value", "generateValue", "sync", "fromDatabase", "fromService"}
FROM_SERVICE_FIELDS = {"name", "type", "property", "envVarKey"}
FROM_SERVICE_PROPERTIES = {"host", "port", "hostport", "connectionString"}
MAXMEMORY_POLICIES = {
    "allkeys-lru",
    "volatile-lru",
    "allkeys-random",
    "volatile-random",
    "volatile-ttl",
    "noeviction",
}
SECRETS = {"OPENAI_API_KEY", "API_TOKEN", "DEBUG_TOKEN"}
"""Settings that must never be written into a deployment file."""


def load(name: str) -> Any:
    return yaml.safe_load((ROOT / name).read_text())


def settings_names() -> set[str]:
    """Every setting documented in .env.example (``NAME=`` lines)."""
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def dockerfile_variants() -> set[str]:
    """The IMAGE_VARIANT values the Dockerfile's dependency step accepts."""
    text = (ROOT / "Dockerfile").read_text()
    return set(re.findall(r"^\s*(\w+)\) lock=", text, flags=re.MULTILINE))


@pytest.fixture(scope="module")
def blueprint() -> Any:
    return load("render.yaml")


@pytest.fixture(scope="module")
def web(blueprint: Any) -> dict[str, Any]:
    [service] = [s for s in blueprint["services"] if s["type"] == "web"]
    return dict(service)


def env_vars(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["key"]: entry for entry in service.get("envVars", []) if "key" in entry}


class TestRenderBlueprintFields:
    def test_uses_only_documented_root_and_service_fields(self, blueprint: Any) -> None:
        """Every root key and every service key is one the Blueprint reference documents."""
        assert set(blueprint) <= BLUEPRINT_ROOT_FIELDS
        for service in blueprint["services"]:
            assert set(service) <= SERVICE_FIELDS, service["name"]
            assert service["type"] in SERVICE_TYPES

    def test_each_service_has_its_required_fields(self, blueprint: Any) -> None:
        """Names are unique; non-Key-Value services name a runtime, Docker ones no build or start
        command; Key Value instances have the required ipAllowList and a documented policy."""
        names = [service["name"] for service in blueprint["services"]]
        assert len(names) == len(set(names))
        for service in blueprint["services"]:
            if service["type"] in {"keyvalue", "redis"}:
                assert "runtime" not in service
                assert isinstance(service["ipAllowList"], list)
                assert service.get("maxmemoryPolicy", "allkeys-lru") in MAXMEMORY_POLICIES
            else:
                assert service["runtime"] in RUNTIMES
            if service.get("runtime") == "docker":
                assert not {"buildCommand", "startCommand"} & set(service)

    def test_env_vars_use_one_documented_source_each(self, blueprint: Any) -> None:
        """Each variable has a key and exactly one source; ``sync`` is only ever false; a
        ``fromService`` names a service of this file by name and type, and one documented
        property or an environment variable of it."""
        services = {(s["name"], s["type"]) for s in blueprint["services"]}
        for service in blueprint["services"]:
            for entry in service.get("envVars", []):
                assert set(entry) <= ENV_VAR_FIELDS, entry
                if "fromGroup" in entry:
                    assert set(entry) == {"fromGroup"}
                    continue
                assert len(set(entry) & ENV_VAR_SOURCES) == 1, entry
                if "sync" in entry:
                    assert entry["sync"] is False
                if "fromService" in entry:
                    ref = entry["fromService"]
                    assert set(ref) <= FROM_SERVICE_FIELDS
                    assert (ref["name"], ref["type"]) in services
                    assert len({"property", "envVarKey"} & set(ref)) == 1
                    assert ref.get("property", "host") in FROM_SERVICE_PROPERTIES


class TestRenderBlueprintService:
    def test_web_service_builds_the_slim_variant_from_the_dockerfile(self, web: Any) -> None:
        """The web service builds ./Dockerfile in the repository root with IMAGE_VARIANT=slim
        (Render hands environment variables to the build as arguments), a variant the Dockerfile
        accepts, and runs the OpenAI engine."""
        assert web["runtime"] == "docker"
        assert (ROOT / web["dockerfilePath"]).resolve() == ROOT / "Dockerfile"
        assert (ROOT / web["dockerContext"]).resolve() == ROOT
        assert "ARG IMAGE_VARIANT" in (ROOT / "Dockerfile").read_text()
        variables = env_vars(web)
        assert variables["IMAGE_VARIANT"]["value"] == "slim"
        assert "slim" in dockerfile_variants()
        assert variables["ENGINE"]["value"] == "openai"

    def test_health_check_path_is_the_services_health_route(self, web: Any) -> None:
        """healthCheckPath is /healthz, which the app answers with its health document (503
        "starting" before the engine is up), not 404."""
        assert web["healthCheckPath"] == "/healthz"
        app = create_app(make_settings(engine="openai", openai_api_key="sk-test"))
        response = TestClient(app).get(web["healthCheckPath"])
        assert response.status_code == 503
        assert response.json()["status"] == "starting"

    def test_secrets_are_asked_for_never_written(self, blueprint: Any, web: Any) -> None:
        """OPENAI_API_KEY, API_TOKEN and DEBUG_TOKEN are ``sync: false`` (Render prompts for
        them) and no service carries a value for any of them."""
        variables = env_vars(web)
        for name in SECRETS:
            assert variables[name] == {"key": name, "sync": False}
        for service in blueprint["services"]:
            for name, entry in env_vars(service).items():
                if name in SECRETS:
                    assert "value" not in entry

    def test_every_variable_is_a_documented_setting_or_the_build_argument(self, web: Any) -> None:
        """Each variable the web service sets is a setting of .env.example, except the build
        argument IMAGE_VARIANT; a misspelt setting would be silently ignored."""
        assert set(env_vars(web)) - {"IMAGE_VARIANT"} <= settings_names()

    def test_optional_redis_is_a_private_key_value_instance(self, blueprint: Any, web: Any) -> None:
        """REDIS_URL comes from the Key Value instance's connection string, and that instance
        accepts no connections from outside Render (empty ipAllowList)."""
        ref = env_vars(web)["REDIS_URL"]["fromService"]
        assert ref["type"] == "keyvalue"
        assert ref["property"] == "connectionString"
        [redis] = [s for s in blueprint["services"] if s["name"] == ref["name"]]
        assert redis["ipAllowList"] == []


class TestCompose:
    def test_app_waits_for_a_healthy_redis_and_the_balancer_for_healthy_apps(self) -> None:
        """Redis and the app have health checks; the app starts once Redis is healthy and nginx
        once the app is; the app's check requests /healthz."""
        compose = load("compose.yaml")
        services = compose["services"]
        assert services["app"]["depends_on"] == {"redis": {"condition": "service_healthy"}}
        assert services["lb"]["depends_on"] == {"app": {"condition": "service_healthy"}}
        assert services["redis"]["healthcheck"]["test"][:2] == ["CMD", "redis-cli"]
        app_check = services["app"]["healthcheck"]["test"]
        assert app_check[0] == "CMD"
        assert "/healthz" in " ".join(app_check)

    def test_app_builds_a_variant_the_dockerfile_accepts(self) -> None:
        """compose.yaml's IMAGE_VARIANT build argument is one of the Dockerfile's variants."""
        build = load("compose.yaml")["services"]["app"]["build"]
        assert build["context"] == "."
        assert build["args"]["IMAGE_VARIANT"] in dockerfile_variants()


class TestDockerfile:
    def instructions(self) -> list[str]:
        """The Dockerfile's instructions, continuation lines joined, comments dropped."""
        text = (ROOT / "Dockerfile").read_text()
        lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
        joined = "\n".join(lines).replace("\\\n", " ")
        return [line.strip() for line in joined.splitlines() if line.strip()]

    def test_variants_install_the_lock_files_before_the_source_is_copied(self) -> None:
        """full installs requirements-local.txt and slim requirements.txt (the files
        `make lock` writes), hash-checked, in a step before ``COPY src``: a code change leaves
        the dependency layer cached."""
        steps = self.instructions()
        install = next(i for i, step in enumerate(steps) if "--require-hashes" in step)
        copy_src = next(i for i, step in enumerate(steps) if step.startswith("COPY src "))
        assert install < copy_src
        assert "full) lock=requirements-local.txt" in steps[install]
        assert "slim) lock=requirements.txt" in steps[install]
        assert dockerfile_variants() == {"full", "slim"}
        for lock in ("requirements.txt", "requirements-local.txt"):
            assert (ROOT / lock).is_file()

    def test_runs_as_a_numeric_non_root_user_with_a_health_check(self) -> None:
        """The last USER is a numeric uid other than 0, and a HEALTHCHECK requests /healthz."""
        steps = self.instructions()
        user = [step.split()[1] for step in steps if step.startswith("USER ")][-1]
        assert user.split(":")[0].isdigit()
        assert user.split(":")[0] != "0"
        [check] = [step for step in steps if step.startswith("HEALTHCHECK ")]
        assert "/healthz" in check

    def test_dockerignore_admits_everything_the_dockerfile_copies(self) -> None:
        """Each COPY source is re-included by .dockerignore (which excludes everything else)."""
        allowed = {
            line[1:].rstrip("/")
            for line in (ROOT / ".dockerignore").read_text().splitlines()
            if line.startswith("!")
        }
        for step in self.instructions():
            if step.startswith("COPY ") and "--from" not in step:
                for source in step.split()[1:-1]:
                    top = source.split("/")[0] if source.startswith("src/") else source
                    assert top in allowed, source
