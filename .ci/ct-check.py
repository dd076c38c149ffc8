#!/usr/bin/env python3
"""Constant-time check of the release firmware: disassembles the ELFs and fails when a function
on the secret path (.ci/ct-check/functions.txt), or any function it calls, branches on secret
data, divides secret data, or reads or writes memory at a secret address.

The rule (docs/security.md, "Constant time"): a value is secret if it comes, through any chain of
register operations, from a load from memory or from an argument register the function list
names as secret. Pointers, lengths, the stack pointer and constants are public, and so is what
is computed only from them: loop counters, end pointers, remaining lengths. A stack slot keeps
the taint of the register stored in it (a spilled length stays public); a slot never written in
the function is secret. After a call every caller-saved register is secret. The analysis is
flow-sensitive (per instruction, joined over the function's control-flow graph), so a register
reused for a counter after it held data is judged by what it holds at the branch.

A function fails when it has
- a conditional branch with a secret operand, or an indirect jump or call (its target cannot be
  checked);
- a division or remainder instruction with a secret operand, or a call to a division helper
  (`__udivdi3`, `__umoddi3`, ...: their time depends on the operands);
- a load or store whose address register is secret (a secret-indexed table look-up);
- a line inside it that is not a recognised instruction, a branch or jump whose target is not
  one of its instructions or another function's start, or a call whose target is no known
  function (the check must see all of the code: a change in llvm-objdump's output fails loudly
  instead of passing with nothing checked);
- no instructions at all, or no symbol in the ELF (inlined away).

Calls are followed: every function a listed function calls (directly, or as a tail call) is
checked too, with the argument registers that are secret at any of its call sites, unless the
list names it a `boundary` (hardware or ROM code the ELF does not contain, panics), each with
its reason.

Usage: ct-check.py [--functions FILE] [--disassembly TEXT] ELF...
  ELF                an ELF (or object) to disassemble with llvm-objdump; a missing ELF fails
  --disassembly      read llvm-objdump -d -C --no-show-raw-insn output (optionally preceded by
                     llvm-objdump -t output, for ROM symbols) from TEXT instead
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
RETURNS = {"ret"}
LINKED_CALLS = {"call", "jal", "c.jal", "jalr", "c.jalr"}
UNLINKED_JUMPS = {"tail", "jr", "c.jr"}
DIVISIONS = {"div", "divu", "rem", "remu"}
DIVISION_HELPERS = {
    "__udivdi3", "__umoddi3", "__divdi3", "__moddi3", "__udivmoddi4", "__divmoddi4",
    "__udivsi3", "__umodsi3", "__divsi3", "__modsi3", "__udivmodsi4", "__divmodsi4",
    "__udivti3", "__umodti3", "__divti3", "__modti3", "__udivmodti4",
}
# Register operations whose result depends only on their register operands.
ARITHMETIC = {
    "add", "addi", "sub", "and", "andi", "or", "ori", "xor", "xori", "sll", "slli", "srl",
    "srli", "sra", "srai", "slt", "slti", "sltu", "sltiu", "lui", "auipc", "li", "mv", "not",
    "neg", "seqz", "snez", "sltz", "sgtz", "zext.b", "zext.h", "sext.b", "sext.h", "mul",
    "mulh", "mulhu", "mulhsu", "c.add", "c.addi", "c.addi16sp", "c.addi4spn", "c.and",
    "c.andi", "c.li", "c.lui", "c.mv", "c.or", "c.slli", "c.srai", "c.srli", "c.sub", "c.xor",
    "c.mul", "c.zext.b", "c.zext.h", "c.sext.b", "c.sext.h", "c.not",
}
ATOMICS = re.compile(r"^(lr|sc|amo[a-z]+)\.w(\.aqrl|\.aq|\.rl)?$")
OTHERS = {"nop", "c.nop", "fence", "fence.i", "fence.tso", "unimp", "c.unimp", "ebreak",
          "c.ebreak"}
CSR = re.compile(r"^csrr?[swc]?i?$")
REGISTER = re.compile(r"\b(zero|ra|sp|gp|tp|fp|t[0-6]|s1[01]|s[0-9]|a[0-7])\b")
MEMORY = re.compile(r"^(-?\w+)\((\w+)\)$")
CALLER_SAVED = {f"t{i}" for i in range(7)} | {f"a{i}" for i in range(8)} | {"ra"}
ARGUMENTS = [f"a{i}" for i in range(8)]
FUNCTION = re.compile(r"^([0-9a-f]+) <(.+)>:$")
INSTRUCTION = re.compile(r"^\s*([0-9a-f]+):\s+([a-z][\w.]*)\s*(.*)$")
SYMBOL = re.compile(r"^([0-9a-f]{8,16})\s.*\s\*ABS\*\s+[0-9a-f]+\s+(?:\.hidden\s+)?(\S+)$")
SECTION_NOISE = re.compile(r"^(\S+:\s+file format .*|Disassembly of section .*|SYMBOL TABLE:)$")
HASH_SUFFIX = re.compile(r"::h[0-9a-f]{16}$")
CRATE_DISAMBIGUATOR = re.compile(r"\[[0-9a-f]+\]")


def canonical(symbol):
    """A demangled Rust symbol without its hash, crate disambiguators or LLVM clone suffix."""
    name = CRATE_DISAMBIGUATOR.sub("", symbol)
    name = HASH_SUFFIX.sub("", name)
    return name.split(".")[0] if not name.startswith(".") else name


def known(mnemonic):
    return (
        mnemonic in BRANCHES | LOADS | STORES | JUMPS | RETURNS | LINKED_CALLS | UNLINKED_JUMPS
        | DIVISIONS | ARITHMETIC | OTHERS
        or ATOMICS.match(mnemonic) is not None
        or CSR.match(mnemonic) is not None
    )


class Program:
    """A disassembly: its functions, their start addresses and the ELF's absolute symbols."""

    def __init__(self, text):
        self.functions = {}  # symbol: [(address, mnemonic, operands)]
        self.unparsed = {}  # symbol: [line]
        self.starts = {}  # address: symbol
        self.absolute = {}  # address: name (ROM functions the linker script places)
        current = None
        for line in text.splitlines():
            symbol = SYMBOL.match(line)
            if symbol and current is None:
                self.absolute.setdefault(int(symbol.group(1), 16), symbol.group(2))
                continue
            header = FUNCTION.match(line)
            if header:
                current = header.group(2)
                self.functions.setdefault(current, [])
                self.unparsed.setdefault(current, [])
                self.starts.setdefault(int(header.group(1), 16), current)
                continue
            if current is None or not line.strip() or SECTION_NOISE.match(line.strip()):
                continue
            insn = INSTRUCTION.match(line)
            if insn and known(insn.group(2)):
                operands = insn.group(3).split("#")[0].strip()
                self.functions[current].append((int(insn.group(1), 16), insn.group(2), operands))
            else:
                self.unparsed[current].append(line.strip())

    def name_at(self, address):
        if address in self.starts:
            return self.starts[address]
        return self.absolute.get(address)


def parse(text):
    """{symbol: [(address, mnemonic, operands)]} from llvm-objdump -d output."""
    return Program(text).functions


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


def number(text):
    try:
        return int(text, 0)
    except ValueError:
        return None


def branch_target(address, operand):
    """The target of a branch or jump operand: `0x4200011c <f+0x1c>`, or a relative `-12`."""
    value = operand.split("<")[0].strip()
    if value.startswith("0x"):
        return number(value)
    offset = number(value)
    return None if offset is None else address + offset


def call_targets(instructions):
    """{index: target address} of each call and register jump whose target is known: `jal`
    with an address, or `jalr`/`jr` through a register that the instruction before set with
    `auipc` (how the compiler spells `call` and `tail`)."""
    targets = {}
    for i, (address, mnemonic, operands) in enumerate(instructions):
        ops = split_operands(operands)
        if mnemonic in {"jal", "c.jal", "call", "tail"} and ops:
            target = branch_target(address, ops[-1])
            if target is not None:
                targets[i] = target
        elif mnemonic in {"jalr", "jr", "c.jalr", "c.jr"} and ops and i > 0:
            memory = MEMORY.match(ops[-1].split("<")[0].strip())
            base, offset = (memory.group(2), number(memory.group(1))) if memory else (None, None)
            if memory is None and len(ops) == 1:
                base, offset = registers(ops[0])[0] if registers(ops[0]) else None, 0
            prev_address, prev_mnemonic, prev_operands = instructions[i - 1]
            prev = split_operands(prev_operands)
            if (
                base
                and offset is not None
                and prev_mnemonic == "auipc"
                and len(prev) == 2
                and registers(prev[0]) == [base]
                and number(prev[1]) is not None
            ):
                targets[i] = (prev_address + (number(prev[1]) << 12) + offset) & 0xFFFFFFFF
    return targets


def analyse(instructions, secret_args, program=None):
    """The violations in one function and its calls.

    Returns ([(address, text, why)], [(callee name or None, target, secret argument registers,
    tail call)]).
    """
    index = {address: i for i, (address, _, _) in enumerate(instructions)}
    targets = call_targets(instructions)
    entry = (frozenset(secret_args), frozenset())  # (secret registers, public stack slots)
    states = {0: entry} if instructions else {}
    work, violations, calls = [0] if instructions else [], {}, {}

    def flow(i, state):
        old = states.get(i)
        new = state if old is None else (old[0] | state[0], old[1] & state[1])
        if new != old:
            states[i] = new
            work.append(i)

    def fail(address, mnemonic, operands, why):
        violations[address] = (f"{mnemonic}\t{operands}", why)

    def name_of(target):
        return program.name_at(target) if program is not None else None

    def call(i, target, secret, tail):
        callee = name_of(target)
        address, mnemonic, operands = instructions[i]
        if callee is None:
            fail(address, mnemonic, operands, f"call target 0x{target:x} is no known function")
            return
        if canonical(callee) in DIVISION_HELPERS:
            fail(address, mnemonic, operands, f"calls the division helper {canonical(callee)}")
        key = (callee, tail)
        args = frozenset(r for r in ARGUMENTS if r in secret)
        calls[key] = calls.get(key, frozenset()) | args

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
                fail(address, mnemonic, operands, f"branch on secret data ({', '.join(bad)})")
            target = branch_target(address, ops[-1]) if ops else None
            if target in index:
                successors.append(index[target])
            else:
                fail(address, mnemonic, operands, "branch target not resolved")
        elif mnemonic in JUMPS:
            target = branch_target(address, ops[0]) if ops else None
            successors = []
            if target in index:
                successors = [index[target]]
            elif target is not None and name_of(target) is not None:
                call(i, target, secret, tail=True)
            else:
                fail(address, mnemonic, operands, "jump target not resolved")
        elif mnemonic in RETURNS:
            successors = []
        elif mnemonic in LINKED_CALLS | UNLINKED_JUMPS:
            linked = mnemonic in LINKED_CALLS and not (
                mnemonic in {"jalr", "c.jalr"} and ops and ops[0].startswith("zero")
            )
            target = targets.get(i)
            if target is None:
                fail(address, mnemonic, operands, "indirect call or jump: its target cannot be "
                     "checked")
            elif not linked and target in index:
                successors = [index[target]]
            else:
                call(i, target, secret, tail=not linked)
            if linked:
                secret = secret | CALLER_SAVED
            elif target is None or target not in index:
                successors = []
        elif mnemonic in STORES:
            memory = MEMORY.match(ops[1]) if len(ops) == 2 else None
            if memory and memory.group(2) in secret:
                fail(address, mnemonic, operands, f"store at a secret address ({memory.group(2)})")
            if memory and memory.group(2) == "sp":
                slot = memory.group(1)
                source = registers(ops[0])
                if source and source[0] in secret:
                    public_slots = public_slots - {slot}
                else:
                    public_slots = public_slots | {slot}
        elif ops:
            dest = registers(ops[0])
            if mnemonic in DIVISIONS:
                bad = sorted({r for op in ops[1:] for r in registers(op)} & secret)
                if bad:
                    fail(address, mnemonic, operands, f"division of secret data ({', '.join(bad)})")
            if dest:
                memory = MEMORY.match(ops[1]) if len(ops) == 2 else None
                if mnemonic in LOADS or ATOMICS.match(mnemonic) or CSR.match(mnemonic):
                    if memory and memory.group(2) in secret:
                        fail(address, mnemonic, operands,
                             f"load from a secret address ({memory.group(2)})")
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
    found = [(a, text, why) for a, (text, why) in sorted(violations.items())]
    return found, [(callee, args, tail) for (callee, tail), args in sorted(calls.items())]


def load_functions(path):
    """({checked function: secret argument registers}, {boundary function})."""
    wanted, boundaries = {}, set()
    with open(path) as f:
        for line in f:
            words = line.split("#")[0].split()
            if not words:
                continue
            if words[0] == "boundary":
                if len(words) != 2 or "#" not in line:
                    raise SystemExit(f"{path}: a boundary needs one name and a # reason: {line}")
                boundaries.add(words[1])
            else:
                wanted[words[0]] = set(words[1:])
    return wanted, boundaries


def is_boundary(symbol, boundaries):
    """Whether `symbol` is a listed boundary: its name, or a `prefix*` pattern."""
    name = canonical(symbol)
    return any(
        name == b or symbol == b or (b.endswith("*") and name.startswith(b[:-1]))
        for b in boundaries
    )


def check(text, wanted, label, boundaries=frozenset()):
    """Prints a report for one disassembly; returns whether it passed."""
    program = Program(text)
    by_name = {}
    for symbol in program.functions:
        by_name.setdefault(canonical(symbol), []).append(symbol)
    ok = True
    # symbol: (secret argument registers, the listed function it is checked for)
    pending, done = {}, {}
    for name, secret_args in wanted.items():
        if name not in by_name:
            print(f"FAIL {label}: {name} not found (inlined away? it must stay #[inline(never)])")
            ok = False
            continue
        for symbol in by_name[name]:
            pending[symbol] = (frozenset(secret_args), None)
    while pending:
        symbol, (secret_args, caller) = pending.popitem()
        if symbol in done and secret_args <= done[symbol]:
            continue
        secret_args = secret_args | done.get(symbol, frozenset())
        done[symbol] = secret_args
        instructions = program.functions.get(symbol, [])
        unparsed = program.unparsed.get(symbol, [])
        via = f" (called from {canonical(caller)})" if caller else ""
        if not instructions:
            print(f"FAIL {label}: {canonical(symbol)}{via}: no instructions parsed")
            ok = False
            continue
        if unparsed:
            ok = False
            print(f"FAIL {label}: {canonical(symbol)}{via}: {len(unparsed)} line(s) not parsed "
                  f"as instructions, e.g. {unparsed[0]!r}")
        bad, calls = analyse(instructions, secret_args, program)
        for callee, args, _tail in calls:
            if is_boundary(callee, boundaries):
                continue
            if callee not in program.functions:
                ok = False
                print(f"FAIL {label}: {canonical(symbol)} calls {callee}, which the ELF does not "
                      f"contain: list it as a boundary with its reason, or check it")
                continue
            if callee not in done or not args <= done[callee]:
                pending[callee] = (args | pending.get(callee, (frozenset(), None))[0], symbol)
        branches = sum(1 for _, m, _ in instructions if m in BRANCHES)
        if bad:
            ok = False
            print(f"FAIL {label}: {symbol}{via}: {len(bad)} violation(s)")
            for address, text_, why in bad:
                print(f"    {address:08x}: {text_}    ({why})")
        elif not unparsed:
            secret = f", secret {' '.join(sorted(secret_args))}" if secret_args else ""
            print(f"ok   {label}: {canonical(symbol)}{via}: {len(instructions)} instructions, "
                  f"{branches} conditional branch(es){secret}, none on secret data")
    print(f"{label}: {len(done)} function(s) checked")
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


def disassemble(elf):
    """The symbol table (for ROM functions) followed by the disassembly."""
    run = lambda *args: subprocess.run(  # noqa: E731
        [objdump(), *args, elf], capture_output=True, text=True, check=True
    ).stdout
    return run("-t") + "\n" + run("-d", "-C", "--no-show-raw-insn")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("elves", nargs="*")
    parser.add_argument("--disassembly", action="append", default=[])
    parser.add_argument("--functions", default=os.path.join(HERE, "ct-check", "functions.txt"))
    args = parser.parse_args()
    if not args.elves and not args.disassembly:
        parser.error("name an ELF or a --disassembly")
    wanted, boundaries = load_functions(args.functions)
    ok = True
    for path in args.disassembly:
        with open(path) as f:
            ok &= check(f.read(), wanted, path, boundaries)
    for elf in args.elves:
        if not os.path.isfile(elf):
            print(f"FAIL {elf}: no such ELF (build it with `bash .ci/firmware.sh`): nothing was "
                  "checked")
            ok = False
            continue
        ok &= check(disassemble(elf), wanted, elf, boundaries)
    if not ok:
        print("constant-time check FAILED: see docs/security.md, 'Constant time'")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
