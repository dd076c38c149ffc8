#!/usr/bin/env python3
"""Constant-time check of the release firmware: disassembles the ELFs and fails when a function
on the secret path (.ci/ct-check/functions.txt) contains a conditional branch on secret data.

The rule (docs/security.md, "Constant time"): a value is secret if it comes, through any chain of
register operations, from a load from memory or from an argument register the function list
names as secret. Pointers, lengths, the stack pointer and constants are public, and so is what
is computed only from them: loop counters, end pointers, remaining lengths. A stack slot keeps
the taint of the register stored in it (a spilled length stays public); a slot never written in
the function is secret. After a call every caller-saved register is secret. A conditional branch
with a secret operand, or an indirect jump through a secret register, fails the check, and so
does a listed function missing from the ELF (inlined away: nothing would be checked).

The analysis is flow-sensitive (per instruction, joined over the function's control-flow graph),
so a register reused for a counter after it held data is judged by what it holds at the branch.

Usage: ct-check.py [--functions FILE] [--disassembly TEXT] ELF...
  ELF                an ELF (or object) to disassemble with llvm-objdump
  --disassembly      read llvm-objdump -d -C --no-show-raw-insn output from TEXT instead
  --functions        the list of checked functions (default .ci/ct-check/functions.txt)
llvm-objdump comes from $OBJDUMP, or from the rustup component llvm-tools (added if missing).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

BRANCHES = {
    "beq", "bne", "blt", "bge", "bltu", "bgeu", "bgt", "ble", "bgtu", "bleu",
    "beqz", "bnez", "blez", "bgez", "bltz", "bgtz", "c.beqz", "c.bnez",
}
LOADS = {"lb", "lh", "lw", "lbu", "lhu", "c.lw", "c.lwsp", "flw", "c.flw", "c.flwsp"}
STORES = {"sb", "sh", "sw", "c.sw", "c.swsp", "fsw", "c.fsw", "c.fswsp"}
JUMPS = {"j", "c.j"}
RETURNS = {"ret", "tail"}
CALLS = {"call", "jal", "c.jal", "jalr", "c.jalr", "jr", "c.jr"}
REGISTER = re.compile(r"\b(zero|ra|sp|gp|tp|fp|t[0-6]|s1[01]|s[0-9]|a[0-7])\b")
MEMORY = re.compile(r"^(-?\w+)\((\w+)\)$")
CALLER_SAVED = {f"t{i}" for i in range(7)} | {f"a{i}" for i in range(8)} | {"ra"}
FUNCTION = re.compile(r"^([0-9a-f]+) <(.+)>:$")
INSTRUCTION = re.compile(r"^\s*([0-9a-f]+):\s+([a-z][\w.]*)\s*(.*)$")
HASH_SUFFIX = re.compile(r"::h[0-9a-f]{16}$")
CRATE_DISAMBIGUATOR = re.compile(r"\[[0-9a-f]+\]")


def canonical(symbol):
    """A demangled Rust symbol without its hash, crate disambiguators or LLVM clone suffix."""
    name = CRATE_DISAMBIGUATOR.sub("", symbol)
    name = HASH_SUFFIX.sub("", name)
    return name.split(".")[0] if not name.startswith(".") else name


def parse(text):
    """{symbol: [(address, mnemonic, operands)]} from llvm-objdump -d output."""
    functions, current = {}, None
    for line in text.splitlines():
        header = FUNCTION.match(line)
        if header:
            current = functions.setdefault(header.group(2), [])
            continue
        insn = INSTRUCTION.match(line)
        if insn and current is not None:
            operands = insn.group(3).split("#")[0].strip()
            current.append((int(insn.group(1), 16), insn.group(2), operands))
    return functions


def split_operands(operands):
    """Operands split at commas, except inside a `<symbol+offset>` annotation."""
    parts, depth, part = [], 0, ""
    for ch in operands:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(part.strip())
            part = ""
        else:
            part += ch
    if part.strip():
        parts.append(part.strip())
    return parts


def registers(operand):
    return [r for r in REGISTER.findall(operand.split("<")[0]) if r != "zero"]


def branch_target(address, operand):
    """The target of a branch or jump operand: `0x4200011c <f+0x1c>`, or a relative `-12`."""
    value = operand.split("<")[0].strip()
    try:
        return int(value, 16) if value.startswith("0x") else address + int(value, 0)
    except ValueError:
        return None


def analyse(instructions, secret_args):
    """The violations in one function: [(address, text, secret registers)]."""
    index = {address: i for i, (address, _, _) in enumerate(instructions)}
    entry = (frozenset(secret_args), frozenset())  # (secret registers, public stack slots)
    states = {0: entry} if instructions else {}
    work, violations = [0] if instructions else [], {}

    def flow(i, state):
        old = states.get(i)
        if old is None:
            new = state
        else:
            new = (old[0] | state[0], old[1] & state[1])
        if new != old:
            states[i] = new
            work.append(i)

    while work:
        i = work.pop()
        secret, public_slots = states[i]
        address, mnemonic, operands = instructions[i]
        ops = split_operands(operands)
        successors = [i + 1] if i + 1 < len(instructions) else []
        if mnemonic in BRANCHES:
            used = [r for op in ops[:-1] for r in registers(op)]
            bad = sorted(set(used) & secret)
            if bad:
                violations[address] = (f"{mnemonic}\t{operands}", bad)
            target = branch_target(address, ops[-1]) if ops else None
            if target in index:
                successors.append(index[target])
        elif mnemonic in JUMPS:
            target = branch_target(address, ops[0]) if ops else None
            successors = [index[target]] if target in index else []
        elif mnemonic in RETURNS:
            successors = []
        elif mnemonic in CALLS:
            reg_ops = [r for op in ops for r in registers(op)]
            indirect = mnemonic in {"jalr", "c.jalr", "jr", "c.jr"}
            if indirect and reg_ops:
                target_reg = [r for r in reg_ops if r != "ra"] or reg_ops
                if target_reg[-1] in secret:
                    violations[address] = (f"{mnemonic}\t{operands}", [target_reg[-1]])
            if mnemonic in {"jr", "c.jr"}:
                successors = []
            else:
                secret = secret | CALLER_SAVED
        elif mnemonic in STORES:
            memory = MEMORY.match(ops[1]) if len(ops) == 2 else None
            if memory and memory.group(2) == "sp":
                slot = memory.group(1)
                source = registers(ops[0])
                if source and source[0] in secret:
                    public_slots = public_slots - {slot}
                else:
                    public_slots = public_slots | {slot}
        elif ops:
            dest = registers(ops[0])
            if dest:
                memory = MEMORY.match(ops[1]) if len(ops) == 2 else None
                if mnemonic in LOADS or mnemonic.startswith(("lr.", "amo", "sc.", "csrr")):
                    tainted = not (
                        mnemonic in LOADS
                        and memory
                        and memory.group(2) == "sp"
                        and memory.group(1) in public_slots
                    )
                else:
                    sources = [r for op in ops[1:] for r in registers(op)]
                    tainted = any(r in secret for r in sources)
                secret = (secret | {dest[0]}) if tainted else (secret - {dest[0]})
        for s in successors:
            flow(s, (frozenset(secret), frozenset(public_slots)))
    return [(a, text, regs) for a, (text, regs) in sorted(violations.items())]


def load_functions(path):
    wanted = {}
    with open(path) as f:
        for line in f:
            words = line.split("#")[0].split()
            if words:
                wanted[words[0]] = set(words[1:])
    return wanted


def check(text, wanted, label):
    """Prints a report for one disassembly; returns whether it passed."""
    functions = parse(text)
    ok = True
    for name, secret_args in wanted.items():
        matches = [s for s in functions if canonical(s) == name]
        if not matches:
            print(f"FAIL {label}: {name} not found (inlined away? it must stay #[inline(never)])")
            ok = False
            continue
        for symbol in matches:
            instructions = functions[symbol]
            branches = sum(1 for _, m, _ in instructions if m in BRANCHES)
            bad = analyse(instructions, secret_args)
            if bad:
                ok = False
                print(f"FAIL {label}: {symbol}: {len(bad)} branch(es) on secret data")
                for address, text_, regs in bad:
                    print(f"    {address:08x}: {text_}    (secret: {', '.join(regs)})")
            else:
                print(
                    f"ok   {label}: {name}: {len(instructions)} instructions, "
                    f"{branches} conditional branch(es), none on secret data"
                )
    return ok


def objdump():
    if os.environ.get("OBJDUMP"):
        return os.environ["OBJDUMP"]
    sysroot = subprocess.run(
        ["rustc", "--print", "sysroot"], capture_output=True, text=True, check=True
    ).stdout.strip()
    host = next(
        line.split()[1]
        for line in subprocess.run(
            ["rustc", "-vV"], capture_output=True, text=True, check=True
        ).stdout.splitlines()
        if line.startswith("host:")
    )
    tool = os.path.join(sysroot, "lib", "rustlib", host, "bin", "llvm-objdump")
    if not os.path.exists(tool):
        print("llvm-objdump missing: rustup component add llvm-tools", file=sys.stderr)
        subprocess.run(["rustup", "component", "add", "llvm-tools"], check=True)
    if not os.path.exists(tool):
        tool = shutil.which("llvm-objdump") or tool
    return tool


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("elves", nargs="*")
    parser.add_argument("--disassembly", action="append", default=[])
    parser.add_argument("--functions", default=os.path.join(HERE, "ct-check", "functions.txt"))
    args = parser.parse_args()
    if not args.elves and not args.disassembly:
        parser.error("name an ELF or a --disassembly")
    wanted = load_functions(args.functions)
    ok = True
    for path in args.disassembly:
        with open(path) as f:
            ok &= check(f.read(), wanted, path)
    for elf in args.elves:
        text = subprocess.run(
            [objdump(), "-d", "-C", "--no-show-raw-insn", elf],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        ok &= check(text, wanted, elf)
    if not ok:
        print("constant-time check FAILED: see docs/security.md, 'Constant time'")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
