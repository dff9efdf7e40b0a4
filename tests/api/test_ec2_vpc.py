"""EC2's VPC actions with unmodified boto3 over an advanced simulator zone: VPCs, subnets (tiers), network
interfaces (NICs), the views (internet gateway, route table, DHCP options), ACL-backed VPC security groups, and
AWS's UnsupportedOperation where CloudStack's model has no equivalent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.test_ec2_helpers import Cloud, in_process_cloud

pytestmark = pytest.mark.api


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with in_process_cloud(tmp_path_factory.mktemp("ec2vpc")) as c:
        yield c


@pytest.fixture(scope="module")
def ec2(cloud: Cloud) -> Any:
    return cloud.client()


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]  # type: ignore[no-any-return]


def test_vpc_subnet_lifecycle_and_cloudstack_view(cloud: Cloud, ec2: Any) -> None:
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16",
                         TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "main"}]}])["Vpc"]
    vid = vpc["VpcId"]
    assert vid.startswith("vpc-") and vpc["State"] == "available" and vpc["CidrBlock"] == "10.20.0.0/16"
    assert {"Key": "Name", "Value": "main"} in vpc["Tags"] and vpc["DhcpOptionsId"].startswith("dopt-")
    cs = cloud.api("listVPCs", listall=True)["vpc"]
    assert [v["cidr"] for v in cs] == ["10.20.0.0/16"]
    assert [v["VpcId"] for v in ec2.describe_vpcs(VpcIds=[vid])["Vpcs"]] == [vid]
    assert ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["main"]}])["Vpcs"][0]["VpcId"] == vid
    with pytest.raises(ClientError) as e:
        ec2.create_vpc(CidrBlock="10.0.0.0/8")
    assert code(e) == "InvalidVpc.Range"
    with pytest.raises(ClientError) as e:
        ec2.describe_vpcs(VpcIds=["vpc-00000000000000000"])
    assert code(e) == "InvalidVpcID.NotFound"

    sub = ec2.create_subnet(VpcId=vid, CidrBlock="10.20.1.0/24")["Subnet"]
    assert sub["VpcId"] == vid and sub["CidrBlock"] == "10.20.1.0/24" and sub["AvailableIpAddressCount"] == 251
    tier = cloud.api("listNetworks", vpcid=cs[0]["id"], listall=True)["network"][0]
    assert tier["cidr"] == "10.20.1.0/24" and tier["aclname"] == "default_allow" and tier["gateway"] == "10.20.1.1"
    assert [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vid]}])["Subnets"]] \
        == [sub["SubnetId"]]
    with pytest.raises(ClientError) as e:
        ec2.create_subnet(VpcId=vid, CidrBlock="10.21.0.0/24")
    assert code(e) == "InvalidSubnet.Range"
    with pytest.raises(ClientError) as e:
        ec2.create_subnet(VpcId=vid, CidrBlock="10.20.1.128/25")
    assert code(e) == "InvalidSubnet.Conflict"
    with pytest.raises(ClientError) as e:
        ec2.delete_vpc(VpcId=vid)
    assert code(e) == "DependencyViolation"

    # views of the VPC router
    igw = ec2.describe_internet_gateways()["InternetGateways"]
    assert igw[0]["Attachments"] == [{"VpcId": vid, "State": "available"}]
    rtb = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vid]}])["RouteTables"][0]
    assert {r["DestinationCidrBlock"]: r["GatewayId"] for r in rtb["Routes"]} == {
        "10.20.0.0/16": "local", "0.0.0.0/0": igw[0]["InternetGatewayId"]}
    assert sub["SubnetId"] in {a.get("SubnetId") for a in rtb["Associations"]}
    ec2.create_route(RouteTableId=rtb["RouteTableId"], DestinationCidrBlock="0.0.0.0/0",
                     GatewayId=igw[0]["InternetGatewayId"])  # already there: accepted
    dopt = ec2.describe_dhcp_options(DhcpOptionsIds=[vpc["DhcpOptionsId"]])["DhcpOptions"][0]
    assert {c["Key"] for c in dopt["DhcpConfigurations"]} == {"domain-name", "domain-name-servers"}
    for call in (lambda: ec2.create_internet_gateway(), lambda: ec2.create_route_table(VpcId=vid),
                 lambda: ec2.create_dhcp_options(DhcpConfigurations=[{"Key": "domain-name", "Values": ["x"]}]),
                 lambda: ec2.create_network_interface(SubnetId=sub["SubnetId"])):
        with pytest.raises(ClientError) as e:
            call()
        assert code(e) == "UnsupportedOperation"

    ec2.delete_subnet(SubnetId=sub["SubnetId"])
    ec2.delete_vpc(VpcId=vid)
    assert ec2.describe_vpcs()["Vpcs"] == []


def test_instance_in_a_subnet_with_a_vpc_security_group(cloud: Cloud, ec2: Any) -> None:
    vid = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    sub = ec2.create_subnet(VpcId=vid, CidrBlock="10.30.1.0/24")["Subnet"]
    gid = ec2.create_security_group(GroupName="web", Description="web servers", VpcId=vid)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    with pytest.raises(ClientError) as e:
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    assert code(e) == "InvalidPermission.Duplicate"
    group = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
    assert group["VpcId"] == vid and group["IpPermissions"][0]["FromPort"] == 22
    acl = [a for a in cloud.api("listNetworkACLLists", listall=True)["networkacllist"] if a["name"] == "web"][0]
    assert cloud.api("listNetworkACLs", aclid=acl["id"])["networkacl"][0]["startport"] == "22"
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    inst = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, SubnetId=sub["SubnetId"],
                             SecurityGroupIds=[gid])["Instances"][0]
    tier = cloud.api("listNetworks", listall=True, forvpc=True)["network"][0]
    assert tier["aclid"] == acl["id"]  # the group is the subnet's ACL list
    enis = ec2.describe_network_interfaces(Filters=[{"Name": "attachment.instance-id",
                                                     "Values": [inst["InstanceId"]]}])["NetworkInterfaces"]
    assert len(enis) == 1 and enis[0]["SubnetId"] == sub["SubnetId"] and enis[0]["VpcId"] == vid
    assert enis[0]["PrivateIpAddress"].startswith("10.30.1.")
    with pytest.raises(ClientError) as e:
        ec2.delete_security_group(GroupId=gid)
    assert code(e) == "DependencyViolation"
    ec2.revoke_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    assert ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]["IpPermissions"] == []
