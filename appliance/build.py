"""Build the devcloud appliance: the wheelhouse, the Debian base image (mmdebstrap), the Packer build, the boxes.

    devcloud build wheelhouse   # dist/wheelhouse: devcloud's wheel + every dependency (hosts install offline)
    devcloud build base         # dist/appliance/base.qcow2: a bootable Debian root made by mmdebstrap
    devcloud build appliance    # packer build packer/ -> qcow2 + libvirt box; then the VirtualBox box
    devcloud build vbox-box     # the VirtualBox .box from a qcow2 (VMDK + generated OVF + metadata.json)

Nothing is downloaded but Debian packages (mmdebstrap, through the host's apt sources) and Python wheels (pip,
through the host's index configuration). The base image boots with extlinux from an unpartitioned ext2 root (as the
tiny guest image does: extlinux 6.04 cannot boot ext4), systemd as init, systemd-networkd on DHCP, root reachable by
the build's own SSH key only, and a `vagrant` user with Vagrant's well-known key (Vagrant replaces it on first up).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import typer

REPO = Path(__file__).resolve().parent.parent
DIST = REPO / "dist"
OUT = DIST / "appliance"
WHEELHOUSE = DIST / "wheelhouse"
BASE_IMAGE = OUT / "base.qcow2"
BUILD_KEY = OUT / "build-key"
PACKER_DIR = REPO / "packer"
VIRT_TYPE_FILE = Path("/var/lib/devcloud/virt-type.json")
ANSIBLE_PLAYBOOK = os.environ.get("DEVCLOUD_ANSIBLE_PLAYBOOK", "/opt/ansible-tools/bin/ansible-playbook")
VAGRANT_PUBKEY_CANDIDATES = (
    "/usr/share/rubygems-integration/all/gems/vagrant-2.3.4/keys/vagrant.pub",
    "/usr/share/vagrant/keys/vagrant.pub",
)
SUITE = "bookworm"
ROOT_LABEL = "devcloud-root"
BASE_SIZE = "6G"

# Everything the roles install, preinstalled in the base so the Packer guest needs no network (its user-mode
# network is `restrict=on`): the roles' apt tasks then find every package present.
BASE_PACKAGES = (
    # boot, init, access
    "linux-image-cloud-amd64", "initramfs-tools", "systemd-sysv", "udev", "dbus", "openssh-server", "sudo",
    "iproute2", "ifupdown", "procps", "less", "ca-certificates", "python3", "python3-venv", "python3-apt",
    # mariadb role
    "mariadb-server", "mariadb-client",
    # nfs_server / kvm_host (NFS)
    "nfs-kernel-server", "nfs-common",
    # kvm_host (appliance.host.prepare's PACKAGES)
    "libvirt-daemon-system", "libvirt-clients", "qemu-system-x86", "qemu-utils", "dnsmasq-base", "genisoimage",
    "extlinux", "syslinux-common", "e2fsprogs", "binutils", "openssh-client", "libvirt-dev", "pkg-config",
)

Progress = Callable[[str], None]
build_app = typer.Typer(help="build the appliance: wheelhouse, base image, Packer image, Vagrant boxes",
                        no_args_is_help=True)


def _say(msg: str) -> None:
    typer.echo(f"[{time.strftime('%H:%M:%S')}] {msg}", err=True)


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, **kw)


# ---- wheelhouse -------------------------------------------------------------------------------------------------
def build_wheelhouse(out: Path = WHEELHOUSE, extras: str = "libvirt", progress: Progress = _say) -> Path:
    """devcloud's wheel and all its dependencies in one directory (the roles install with `pip --no-index`)."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("devcloud-*.whl"):  # same version, new code: always rebuild our own wheel
        old.unlink()
    progress(f"building the wheelhouse in {out}")
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--wheel-dir", str(out), f"{REPO}[{extras}]"])
    return out


# ---- base image ------------------------------------------------------------------------------------------------
def _vagrant_pubkey() -> str:
    for p in VAGRANT_PUBKEY_CANDIDATES:
        if Path(p).is_file():
            return Path(p).read_text().strip()
    raise FileNotFoundError("Vagrant's insecure public key not found (apt-get install vagrant)")


def ensure_build_key(path: Path = BUILD_KEY) -> Path:
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "devcloud-appliance-build", "-f", str(path)])
    return path


def _customize_script(root_key: str, vagrant_key: str) -> str:
    """The mmdebstrap customize hook ($1 = the root directory)."""
    return f"""#!/bin/sh
set -eu
R="$1"
echo devcloud > "$R/etc/hostname"
printf '127.0.0.1 localhost\\n127.0.1.1 devcloud\\n' > "$R/etc/hosts"
printf 'LABEL={ROOT_LABEL} / ext2 defaults 0 1\\n' > "$R/etc/fstab"
mkdir -p "$R/etc/systemd/network"
printf '[Match]\\nName=en* eth*\\n\\n[Network]\\nDHCP=yes\\n' > "$R/etc/systemd/network/80-dhcp.network"
chroot "$R" systemctl enable systemd-networkd ssh
# no network services the build does not need at boot
chroot "$R" systemctl mask apt-daily.timer apt-daily-upgrade.timer
install -d -m 0700 "$R/root/.ssh"
echo '{root_key}' > "$R/root/.ssh/authorized_keys"
chmod 0600 "$R/root/.ssh/authorized_keys"
chroot "$R" useradd -m -s /bin/bash -G sudo vagrant
install -d -m 0700 -o 1000 -g 1000 "$R/home/vagrant/.ssh"
echo '{vagrant_key}' > "$R/home/vagrant/.ssh/authorized_keys"
chroot "$R" chown -R vagrant:vagrant /home/vagrant/.ssh
chmod 0600 "$R/home/vagrant/.ssh/authorized_keys"
echo 'vagrant ALL=(ALL) NOPASSWD: ALL' > "$R/etc/sudoers.d/vagrant"
chmod 0440 "$R/etc/sudoers.d/vagrant"
# extlinux boots the newest kernel by its stable symlinks
mkdir -p "$R/boot/extlinux"
cat > "$R/boot/extlinux/extlinux.conf" <<EOF
DEFAULT devcloud
TIMEOUT 1
LABEL devcloud
  LINUX /vmlinuz
  INITRD /initrd.img
  APPEND root=LABEL={ROOT_LABEL} ro console=ttyS0 net.ifnames=0 quiet
EOF
rm -f "$R/etc/ssh/ssh_host_"*
# host keys are made at first boot (not baked into every appliance)
printf '[Unit]\\nDescription=SSH host keys\\nBefore=ssh.service\\nConditionPathExists=!/etc/ssh/ssh_host_ed25519_key\\n\
[Service]\\nType=oneshot\\nExecStart=/usr/bin/ssh-keygen -A\\n[Install]\\nWantedBy=multi-user.target\\n' \\
  > "$R/etc/systemd/system/ssh-hostkeys.service"
chroot "$R" systemctl enable ssh-hostkeys.service
"""


def build_base(out: Path = BASE_IMAGE, *, size: str = BASE_SIZE, progress: Progress = _say,
               packages: tuple[str, ...] = BASE_PACKAGES) -> Path:
    """A bootable Debian root (systemd, cloud kernel, everything the roles install) as a qcow2."""
    out.parent.mkdir(parents=True, exist_ok=True)
    key = ensure_build_key()
    root_key = key.with_suffix(".pub").read_text().strip()
    with tempfile.TemporaryDirectory(prefix="devcloud-base-", dir=out.parent) as tmp:
        work = Path(tmp)
        hook = work / "customize.sh"
        hook.write_text(_customize_script(root_key, _vagrant_pubkey()))
        hook.chmod(0o755)
        rootfs = work / "root"
        t0 = time.monotonic()
        progress(f"mmdebstrap {SUITE} ({len(packages)} packages)")
        _run(["mmdebstrap", "--variant=minbase", "--mode=root", "--skip=cleanup/apt/lists",
              "--include=" + ",".join(packages), f"--customize-hook={hook} \"$1\"",
              SUITE, str(rootfs)], stdout=subprocess.DEVNULL)
        progress(f"mmdebstrap done in {time.monotonic() - t0:.0f} s; making the ext2 root")
        raw = work / "root.img"
        _run(["mkfs.ext2", "-q", "-F", "-L", ROOT_LABEL, "-d", str(rootfs), "-m", "0", str(raw), size])
        shutil.rmtree(rootfs)
        mnt = work / "mnt"
        mnt.mkdir()
        _run(["mount", "-o", "loop", str(raw), str(mnt)])
        try:
            _run(["extlinux", "--install", str(mnt / "boot/extlinux")], stdout=subprocess.DEVNULL)
        finally:
            _run(["umount", str(mnt)])
        tmp_out = out.with_suffix(".tmp")
        _run(["qemu-img", "convert", "-c", "-O", "qcow2", str(raw), str(tmp_out)])
        tmp_out.replace(out)
    progress(f"base image {out} ({out.stat().st_size // 2**20} MiB)")
    return out


# ---- Packer ----------------------------------------------------------------------------------------------------
def accelerator(virt_type_file: Path = VIRT_TYPE_FILE) -> str:
    """kvm only where the host's probe saw a KVM guest really boot (appliance.host.prepare --probe), else tcg."""
    try:
        doc = json.loads(virt_type_file.read_text())
    except (OSError, ValueError):
        return "tcg"
    return "kvm" if doc.get("virt_type") == "kvm" else "tcg"


def packer_env() -> dict[str, str]:
    return dict(os.environ, PACKER_CHECKPOINT_DISABLE="1", CHECKPOINT_DISABLE="1", PACKER_NO_COLOR="1",
                ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_NOCOLOR="1")


def packer_vars(out_dir: Path, base: Path = BASE_IMAGE) -> list[str]:
    return ["-var", f"base_image={base}", "-var", f"output_dir={out_dir}",
            "-var", f"ssh_private_key_file={BUILD_KEY}", "-var", f"accelerator={accelerator()}",
            "-var", f"ansible_playbook={ANSIBLE_PLAYBOOK}", "-var", f"wheelhouse={WHEELHOUSE}"]


def packer_validate(out_dir: Path = OUT / "packer") -> subprocess.CompletedProcess:
    return subprocess.run(["packer", "validate", *packer_vars(out_dir), str(PACKER_DIR)], capture_output=True,
                          text=True, env=packer_env(), cwd=REPO)


_STEP = re.compile(r"==> (\S+): (.*)")


def run_packer(out_dir: Path, log: Path, progress: Progress = _say) -> None:
    """`packer build` as a subprocess: every line goes to the build log, Packer's `==>` steps to the progress."""
    if out_dir.exists():
        shutil.rmtree(out_dir)  # packer refuses an existing output directory
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = ["packer", "build", "-color=false", "-timestamp-ui", *packer_vars(out_dir), str(PACKER_DIR)]
    with open(log, "w") as fh, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                                env=packer_env(), cwd=REPO) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            fh.write(line)
            fh.flush()
            m = _STEP.search(line)
            if m:
                progress(m.group(2).strip()[:160])
            elif "PLAY RECAP" in line or "TASK [" in line:
                progress(line.split(": ", 2)[-1].strip()[:160])
        rc = proc.wait()
    if rc != 0:
        raise RuntimeError(f"packer build failed ({rc}); log: {log}")


# ---- VirtualBox box --------------------------------------------------------------------------------------------
OVF_NS = "http://schemas.dmtf.org/ovf/envelope/1"
RASD_NS = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
VSSD_NS = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"
VBOX_NS = "http://www.virtualbox.org/ovf/machine"


def _virtual_size(image: Path) -> int:
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", str(image)], check=True,
                                     capture_output=True, text=True).stdout)
    return int(info["virtual-size"])


def ovf_descriptor(name: str, disk_file: str, disk_bytes: int, capacity: int, *, cpus: int = 2,
                   memory_mb: int = 4096) -> str:
    """An OVF 1.0 envelope as VirtualBox exports it: one SATA/AHCI disk, one NAT NIC, nested paging and
    nested hardware virtualisation on (the appliance hosts nested KVM)."""
    items = [
        ("Virtual CPU", 3, f"<rasd:VirtualQuantity>{cpus}</rasd:VirtualQuantity>", "1"),
        ("Memory", 4, f"<rasd:AllocationUnits>MegaBytes</rasd:AllocationUnits>"
                      f"<rasd:VirtualQuantity>{memory_mb}</rasd:VirtualQuantity>", "2"),
        ("sataController0", 20, "<rasd:ResourceSubType>AHCI</rasd:ResourceSubType><rasd:Address>0</rasd:Address>",
         "3"),
        ("disk1", 17, "<rasd:AddressOnParent>0</rasd:AddressOnParent><rasd:HostResource>/disk/vmdisk1"
                      "</rasd:HostResource><rasd:Parent>3</rasd:Parent>", "4"),
        ("Ethernet adapter on 'NAT'", 10, "<rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>"
                                          "<rasd:Connection>NAT</rasd:Connection>"
                                          "<rasd:ResourceSubType>E1000</rasd:ResourceSubType>", "5"),
    ]
    hw = "\n".join(
        f"      <Item><rasd:Caption>{cap}</rasd:Caption><rasd:ElementName>{cap}</rasd:ElementName>"
        f"<rasd:InstanceID>{iid}</rasd:InstanceID><rasd:ResourceType>{rtype}</rasd:ResourceType>{extra}</Item>"
        for cap, rtype, extra, iid in items)
    return f"""<?xml version="1.0"?>
<Envelope ovf:version="1.0" xml:lang="en-US" xmlns="{OVF_NS}" xmlns:ovf="{OVF_NS}" xmlns:rasd="{RASD_NS}"
  xmlns:vssd="{VSSD_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:vbox="{VBOX_NS}">
  <References>
    <File ovf:id="file1" ovf:href="{disk_file}" ovf:size="{disk_bytes}"/>
  </References>
  <DiskSection>
    <Info>List of the virtual disks used in the package</Info>
    <Disk ovf:capacity="{capacity}" ovf:diskId="vmdisk1" ovf:fileRef="file1"
      ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
  </DiskSection>
  <NetworkSection>
    <Info>Logical networks used in the package</Info>
    <Network ovf:name="NAT"><Description>Logical network used by this appliance.</Description></Network>
  </NetworkSection>
  <VirtualSystem ovf:id="{name}">
    <Info>A virtual machine</Info>
    <OperatingSystemSection ovf:id="96">
      <Info>The kind of installed guest operating system</Info>
      <Description>Debian_64</Description>
      <vbox:OSType ovf:required="false">Debian_64</vbox:OSType>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements for a virtual machine</Info>
      <System><vssd:ElementName>Virtual Hardware Family</vssd:ElementName><vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>{name}</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>virtualbox-2.2</vssd:VirtualSystemType></System>
{hw}
    </VirtualHardwareSection>
    <vbox:Machine ovf:required="false" version="1.16-linux" uuid="{{{uuid.uuid4()}}}" name="{name}"
      OSType="Debian_64">
      <ovf:Info>Complete VirtualBox machine configuration in VirtualBox format</ovf:Info>
      <Hardware>
        <CPU count="{cpus}"><HardwareVirtExNestedPaging enabled="true"/><NestedHWVirt enabled="true"/></CPU>
        <Memory RAMSize="{memory_mb}"/>
      </Hardware>
    </vbox:Machine>
  </VirtualSystem>
</Envelope>
"""


VBOX_VAGRANTFILE = """Vagrant.configure("2") do |config|
  config.vm.base_mac = "080027D0C0DE"
  config.vm.synced_folder ".", "/vagrant", disabled: true
end
"""


def make_vbox_box(qcow2: Path, box: Path, name: str = "devcloud-appliance", progress: Progress = _say) -> Path:
    """The VirtualBox box from the same disk: streamOptimized VMDK + an OVF descriptor + metadata.json."""
    with tempfile.TemporaryDirectory(prefix="devcloud-vbox-", dir=box.parent) as tmp:
        work = Path(tmp)
        disk = work / "box-disk001.vmdk"
        progress(f"converting {qcow2.name} to VMDK")
        _run(["qemu-img", "convert", "-O", "vmdk", "-o", "subformat=streamOptimized", str(qcow2), str(disk)])
        (work / "box.ovf").write_text(ovf_descriptor(name, disk.name, disk.stat().st_size, _virtual_size(qcow2)))
        (work / "metadata.json").write_text(json.dumps({"provider": "virtualbox"}) + "\n")
        (work / "Vagrantfile").write_text(VBOX_VAGRANTFILE)
        tmp_box = box.with_suffix(".tmp")
        with tarfile.open(tmp_box, "w:gz", compresslevel=1) as tar:
            for member in ("metadata.json", "Vagrantfile", "box.ovf", disk.name):
                tar.add(work / member, arcname=member)
        tmp_box.replace(box)
    problems = validate_vbox_box(box)
    if problems:
        raise RuntimeError(f"{box} is not a valid VirtualBox box: {'; '.join(problems)}")
    return box


def validate_vbox_box(box: Path) -> list[str]:
    """Structural checks of a VirtualBox .box (VirtualBox itself is not available here): the tar holds
    metadata.json with provider virtualbox, an OVF envelope whose every File reference is a member of the right
    size and a VMDK, a Disk with a capacity referring to that file, and a virtual hardware section with a disk."""
    try:
        tar = tarfile.open(box)  # noqa: SIM115 - closed by the `with` below
    except (OSError, tarfile.TarError) as exc:
        return [f"not a tar archive: {exc}"]
    return _validate_members(tar)


def _validate_members(tar: tarfile.TarFile) -> list[str]:
    problems: list[str] = []
    with tar:
        members = {m.name.lstrip("./"): m for m in tar.getmembers() if m.isfile()}
        if "metadata.json" not in members:
            problems.append("metadata.json missing")
        else:
            try:
                meta = json.load(tar.extractfile(members["metadata.json"]))  # type: ignore[arg-type]
                if meta.get("provider") != "virtualbox":
                    problems.append(f"metadata.json provider is {meta.get('provider')!r}, not 'virtualbox'")
            except ValueError as exc:
                problems.append(f"metadata.json is not JSON: {exc}")
        ovfs = [n for n in members if n.endswith(".ovf")]
        if len(ovfs) != 1:
            problems.append(f"expected one .ovf, found {ovfs}")
            return problems
        try:
            root = ET.parse(tar.extractfile(members[ovfs[0]])).getroot()  # type: ignore[arg-type]
        except ET.ParseError as exc:
            return [*problems, f"{ovfs[0]} is not XML: {exc}"]
        ns = {"ovf": OVF_NS, "rasd": RASD_NS}
        if root.tag != f"{{{OVF_NS}}}Envelope":
            problems.append(f"root element is {root.tag}, not an OVF Envelope")
        files = {}
        for f in root.findall("ovf:References/ovf:File", ns):
            href, fid = f.get(f"{{{OVF_NS}}}href"), f.get(f"{{{OVF_NS}}}id")
            files[fid] = href
            if href not in members:
                problems.append(f"OVF references {href}, not in the box")
                continue
            size = f.get(f"{{{OVF_NS}}}size")
            if size is not None and int(size) != members[href].size:
                problems.append(f"{href}: OVF size {size} != actual {members[href].size}")
            head = tar.extractfile(members[href]).read(4)  # type: ignore[union-attr]
            if head != b"KDMV":
                problems.append(f"{href} is not a VMDK (magic {head!r})")
        disks = root.findall("ovf:DiskSection/ovf:Disk", ns)
        if not disks:
            problems.append("no Disk in the DiskSection")
        for d in disks:
            if d.get(f"{{{OVF_NS}}}fileRef") not in files:
                problems.append(f"disk {d.get(f'{{{OVF_NS}}}diskId')} refers to an unknown file")
            if int(d.get(f"{{{OVF_NS}}}capacity") or 0) <= 0:
                problems.append("disk capacity missing")
        vs = root.find("ovf:VirtualSystem", ns)
        if vs is None:
            problems.append("no VirtualSystem")
        else:
            types = [i.findtext("rasd:ResourceType", namespaces=ns) for i in vs.iter(f"{{{OVF_NS}}}Item")]
            for rtype, what in (("3", "CPU"), ("4", "memory"), ("17", "disk drive")):
                if rtype not in types:
                    problems.append(f"no {what} item in the VirtualHardwareSection")
    return problems


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---- the whole build ---------------------------------------------------------------------------------------------
def build_appliance(out: Path = OUT, *, rebuild_base: bool = False, progress: Progress = _say) -> dict[str, object]:
    t0 = time.monotonic()
    timings: dict[str, float] = {}

    def step(name: str, fn: Callable[[], object]) -> None:
        s = time.monotonic()
        fn()
        timings[name] = round(time.monotonic() - s, 1)

    out.mkdir(parents=True, exist_ok=True)
    step("wheelhouse", lambda: build_wheelhouse(progress=progress))
    if rebuild_base or not BASE_IMAGE.is_file():
        step("base", lambda: build_base(progress=progress))
    packer_out = out / "packer"
    log = out / "build.log"
    progress(f"packer build (accelerator {accelerator()}); log: {log}")
    step("packer", lambda: run_packer(packer_out, log, progress))
    qcow2 = packer_out / "devcloud-appliance.qcow2"
    final = out / "devcloud-appliance.qcow2"
    shutil.move(str(qcow2), final)
    libvirt_box = out / "devcloud-appliance-libvirt.box"
    vbox_box = out / "devcloud-appliance-virtualbox.box"
    step("virtualbox box", lambda: make_vbox_box(final, vbox_box, progress=progress))
    result = {"qcow2": str(final), "boxes": [str(libvirt_box), str(vbox_box)], "log": str(log),
              "seconds": round(time.monotonic() - t0, 1), "steps": timings}
    (out / "build.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


# ---- CLI (`devcloud build ...`) -----------------------------------------------------------------------------------
@build_app.command("wheelhouse")
def cli_wheelhouse() -> None:
    """devcloud's wheel and every dependency in dist/wheelhouse."""
    typer.echo(build_wheelhouse())


@build_app.command("base")
def cli_base(size: str = typer.Option(BASE_SIZE, help="root filesystem size")) -> None:
    """The Debian base image (mmdebstrap): dist/appliance/base.qcow2."""
    typer.echo(build_base(size=size))


@build_app.command("appliance")
def cli_appliance(rebuild_base: bool = typer.Option(False, help="rebuild the mmdebstrap base image")) -> None:
    """Packer (QEMU, Ansible provisioner running playbooks/): a qcow2, a libvirt box and a VirtualBox box."""
    try:
        result = build_appliance(rebuild_base=rebuild_base)
    except (RuntimeError, subprocess.CalledProcessError, FileNotFoundError) as exc:
        typer.echo(f"build failed: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(result, indent=2))


@build_app.command("vbox-box")
def cli_vbox_box(qcow2: Path, box: Path) -> None:
    """The VirtualBox .box from a qcow2 (VMDK + OVF + metadata.json), validated."""
    typer.echo(make_vbox_box(qcow2, box))


@build_app.command("validate-box")
def cli_validate_box(box: Path) -> None:
    """Structural checks of a VirtualBox .box; exit 1 with the problems."""
    problems = validate_vbox_box(box)
    for p in problems:
        typer.echo(p, err=True)
    raise typer.Exit(1 if problems else 0)


if __name__ == "__main__":
    build_app()
