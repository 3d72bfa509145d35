"""Tests for tags on event source mappings: Tags on create, then TagResource (spec 1.2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import esm_sim
from esm_sim import templates
from esm_sim.errors import (
    InvalidParameterValueException,
    ParamValidationError,
    ResourceNotFoundException,
    UnsupportedFeatureError,
    ValidationException,
)

OTHER_UUID = "00000000-0000-4000-8000-000000000000"


def _body(response: dict[str, Any]) -> dict[str, Any]:
    """A response without the ResponseMetadata every answer carries."""
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


class World:
    """A simulation with one table and one function, for tag calls."""

    def __init__(self) -> None:
        self.sim = esm_sim.Simulation(seed=0)
        self.table = self.sim.create_table("orders", partition_key="pk")
        self.sim.create_function("fa", lambda e, c: None)
        self.lam = self.sim.lambda_client

    def create(self, **params: Any) -> dict[str, Any]:
        """Create a mapping of fa on the table and let it settle."""
        response = self.lam.create_event_source_mapping(
            FunctionName="fa",
            EventSourceArn=self.table.stream_arn,
            StartingPosition="LATEST",
            **params,
        )
        self.sim.run_for(5)
        return response

    def arn_of(self, uuid: str) -> str:
        return f"arn:aws:lambda:{self.sim.region}:{self.sim.account_id}:event-source-mapping:{uuid}"


@pytest.fixture
def world() -> World:
    return World()


class TestTagsOnCreate:
    """CreateEventSourceMapping's Tags are kept and read back with ListTags (spec 1.2)."""

    def test_create_tags_are_listed(self, world: World) -> None:
        """Tags given to CreateEventSourceMapping come back from ListTags on the mapping's ARN."""
        created = world.create(Tags={"team": "orders", "env": ""})
        listed = world.lam.list_tags(Resource=created["EventSourceMappingArn"])
        assert {"team": "orders", "env": ""} == listed["Tags"]

    def test_create_response_has_no_tags(self, world: World) -> None:
        """The configuration in the response has no Tags member (EventSourceMappingConfiguration has none)."""
        created = world.create(Tags={"team": "orders"})
        assert "Tags" not in created
        assert "Tags" not in world.lam.get_event_source_mapping(UUID=created["UUID"])

    def test_untagged_mapping_lists_no_tags(self, world: World) -> None:
        """A mapping created without Tags lists an empty map."""
        created = world.create()
        assert {} == world.lam.list_tags(Resource=created["EventSourceMappingArn"])["Tags"]

    def test_reserved_prefix_on_create_is_refused(self, world: World) -> None:
        """A tag key starting with aws: (any case) is refused on create, and no mapping is made."""
        with pytest.raises(InvalidParameterValueException) as info:
            world.create(Tags={"AWS:team": "x"})
        assert (
            "Tag key AWS:team is not valid: keys starting with 'aws:' are reserved for AWS use."
            == info.value.message
        )
        assert {} == world.sim.mappings

    def test_template_tags_reach_the_mapping(self, tmp_path: Path) -> None:
        """An AWS::Lambda::EventSourceMapping's Tags list becomes the mapping's tags."""
        path = tmp_path / "template.yaml"
        path.write_text(
            """
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: orders
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_IMAGE}
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: worker
  Mapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      FunctionName: !Ref Fn
      EventSourceArn: !GetAtt Table.StreamArn
      StartingPosition: LATEST
      Tags: [{Key: team, Value: orders}, {Key: tier, Value: gold}]
"""
        )
        sim = templates.from_template(path, handlers={"Fn": lambda e, c: None})
        (mapping,) = sim.mappings.values()
        listed = sim.lambda_client.list_tags(Resource=mapping.fields["EventSourceMappingArn"])
        assert {"team": "orders", "tier": "gold"} == listed["Tags"]


class TestTagResource:
    """TagResource and UntagResource change a mapping's tags after create (spec 1.2)."""

    def test_tag_adds_and_overwrites(self, world: World) -> None:
        """TagResource adds new keys and overwrites existing ones, keeping the rest; it answers {}."""
        arn = world.create(Tags={"team": "a", "env": "dev"})["EventSourceMappingArn"]
        assert {} == _body(world.lam.tag_resource(Resource=arn, Tags={"env": "prod", "tier": "1"}))
        assert {"team": "a", "env": "prod", "tier": "1"} == world.lam.list_tags(Resource=arn)[
            "Tags"
        ]

    def test_untag_removes_keys_and_ignores_absent_ones(self, world: World) -> None:
        """UntagResource removes the given keys; a key the mapping lacks is no error."""
        arn = world.create(Tags={"team": "a", "env": "dev"})["EventSourceMappingArn"]
        assert {} == _body(world.lam.untag_resource(Resource=arn, TagKeys=["env", "absent"]))
        assert {"team": "a"} == world.lam.list_tags(Resource=arn)["Tags"]

    def test_listed_tags_are_a_copy(self, world: World) -> None:
        """Changing ListTags' answer does not change the mapping's tags."""
        arn = world.create(Tags={"team": "a"})["EventSourceMappingArn"]
        world.lam.list_tags(Resource=arn)["Tags"]["team"] = "b"
        assert {"team": "a"} == world.lam.list_tags(Resource=arn)["Tags"]

    @pytest.mark.parametrize("call", ["tag_resource", "untag_resource"])
    def test_reserved_prefix_is_refused(self, world: World, call: str) -> None:
        """Setting or removing a key that starts with aws: is refused and changes nothing."""
        arn = world.create(Tags={"team": "a"})["EventSourceMappingArn"]
        args: dict[str, Any] = (
            {"Tags": {"aws:x": "1"}} if call == "tag_resource" else {"TagKeys": ["aws:x"]}
        )
        with pytest.raises(InvalidParameterValueException) as info:
            getattr(world.lam, call)(Resource=arn, **args)
        assert (
            "Tag key aws:x is not valid: keys starting with 'aws:' are reserved for AWS use."
            == info.value.message
        )
        assert {"team": "a"} == world.lam.list_tags(Resource=arn)["Tags"]

    def test_more_than_50_tags_are_refused(self, world: World) -> None:
        """A mapping holds at most 50 tags, counting the ones it already has."""
        arn = world.create(Tags={f"k{i}": "v" for i in range(40)})["EventSourceMappingArn"]
        world.lam.tag_resource(Resource=arn, Tags={f"k{i}": "w" for i in range(30, 50)})
        with pytest.raises(InvalidParameterValueException) as info:
            world.lam.tag_resource(Resource=arn, Tags={"k50": "v"})
        assert (
            "The event source mapping would have 51 tags, more than the 50 a resource can have."
            == info.value.message
        )
        assert 50 == len(world.lam.list_tags(Resource=arn)["Tags"])

    def test_key_too_long_is_a_validation_exception(self, world: World) -> None:
        """A key over 128 characters breaks the model's maximum, which the service checks."""
        arn = world.create()["EventSourceMappingArn"]
        with pytest.raises(ValidationException):
            world.lam.tag_resource(Resource=arn, Tags={"k" * 129: "v"})

    def test_empty_key_is_refused_client_side(self, world: World) -> None:
        """An empty key breaks TagKey's minimum length, which botocore checks before sending."""
        arn = world.create()["EventSourceMappingArn"]
        with pytest.raises(ParamValidationError) as info:
            world.lam.tag_resource(Resource=arn, Tags={"": "v"})
        assert "Invalid length for parameter Tags (key: ), value: 0, valid min length: 1" == (
            info.value.report
        )


class TestTaggedResourceLookup:
    """Which ARNs the tag calls accept, and AWS's answers for the others."""

    @pytest.mark.parametrize("call", ["list_tags", "tag_resource", "untag_resource"])
    def test_unknown_mapping_is_not_found(self, world: World, call: str) -> None:
        """A well-formed mapping ARN with an unknown UUID is ResourceNotFoundException (spec 1.6)."""
        args = {"tag_resource": {"Tags": {"a": "b"}}, "untag_resource": {"TagKeys": ["a"]}}
        with pytest.raises(ResourceNotFoundException) as info:
            getattr(world.lam, call)(Resource=world.arn_of(OTHER_UUID), **args.get(call, {}))
        assert "The resource you requested does not exist." == info.value.message

    def test_mapping_in_another_region_is_not_found(self, world: World) -> None:
        """A mapping's UUID under another region's ARN names nothing here."""
        uuid = world.create()["UUID"]
        arn = world.arn_of(uuid).replace(world.sim.region, "eu-west-1")
        with pytest.raises(ResourceNotFoundException):
            world.lam.list_tags(Resource=arn)

    def test_tags_go_with_a_deleted_mapping(self, world: World) -> None:
        """Once a mapping is deleted its tags are gone, and ListTags answers not found."""
        created = world.create(Tags={"team": "a"})
        world.lam.delete_event_source_mapping(UUID=created["UUID"])
        world.sim.run_for(5)
        with pytest.raises(ResourceNotFoundException):
            world.lam.list_tags(Resource=created["EventSourceMappingArn"])
        assert created["UUID"] not in world.lam._tags

    def test_malformed_arn_is_invalid_parameter(self, world: World) -> None:
        """An ARN that names nothing taggable gets Lambda's recorded InvalidParameterValueException."""
        arn = "arn:aws:lambda:us-west-2::event-source-mapping:xxx-xxx-xxx"
        with pytest.raises(InvalidParameterValueException) as info:
            world.lam.list_tags(Resource=arn)
        assert f"Unsupported resource type for tagging or invalid arn: {arn}" == info.value.message

    def test_function_arn_is_not_simulated(self, world: World) -> None:
        """Tags on functions are not simulated, and esm_sim says so rather than guess."""
        arn = f"arn:aws:lambda:{world.sim.region}:{world.sim.account_id}:function:fa"
        with pytest.raises(UnsupportedFeatureError, match="tags on event source mappings only"):
            world.lam.list_tags(Resource=arn)

    def test_missing_resource_is_refused_client_side(self, world: World) -> None:
        """ListTags without Resource is botocore's ParamValidationError."""
        with pytest.raises(ParamValidationError) as info:
            world.lam.list_tags()
        assert 'Missing required parameter in input: "Resource"' == info.value.report
