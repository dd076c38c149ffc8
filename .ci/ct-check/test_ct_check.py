#!/usr/bin/env python3
"""Tests of .ci/ct-check.py: each rule and each way the check could pass without checking, on
small disassemblies written out here (a fixture per rule), and on a real compiler's output
(fixture.rs built and linked for RISC-V), where the leaky functions must fail."""
import contextlib
import importlib.util
import io
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "ct-check.py")
spec = importlib.util.spec_from_file_location("ct_check", SCRIPT)
ct = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ct)


def listing(name, body, start=0):
    """llvm-objdump's layout for one function whose instructions are 2 bytes apart."""
    lines = [f"{start:08x} <{name}>:"]
    for i, insn in enumerate(body.strip().splitlines()):
        lines.append(f"{start + 2 * i:8x}:      \t{insn.strip()}")
    return "\n".join(lines) + "\n"


def violations(body, secret=()):
    program = ct.Program(listing("f", body))
    found, _ = ct.analyse(program.functions["f"], set(secret), program)
    return found


def passes(text, wanted, boundaries=()):
    """The check's verdict on `text`, and what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ok = ct.check(text, wanted, "t", set(boundaries))
    return ok, out.getvalue()


class Rule(unittest.TestCase):
    def test_a_loop_over_lengths_and_pointers_passes(self):
        body = """
            beqz a1, 0xa <f+0xa>
            lw a5, 0x0(a0)
            addi a0, a0, 0x4
            addi a1, a1, -0x1
            bnez a1, 0x2 <f+0x2>
            ret
        """
        self.assertEqual(violations(body), [])

    def test_a_branch_on_the_secret_argument_fails(self):
        body = """
            beqz a4, 0x4 <f+0x4>
            sw a2, 0x0(a0)
            ret
        """
        self.assertEqual(len(violations(body, {"a4"})), 1)
        self.assertIn("branch on secret data", violations(body, {"a4"})[0][2])
        self.assertEqual(violations(body), [])

    def test_a_branch_on_loaded_data_fails_even_through_arithmetic(self):
        body = """
            lw a5, 0x0(a0)
            srli a6, a5, 0x3
            add a7, a6, a1
            bltu a7, a1, 0xa <f+0xa>
            ret
            ret
        """
        self.assertEqual(len(violations(body)), 1)

    def test_a_register_reused_for_a_counter_is_public_again(self):
        body = """
            lw a5, 0x0(a0)
            sw a5, 0x0(a2)
            mv a5, a1
            addi a5, a5, -0x1
            bnez a5, 0x6 <f+0x6>
            ret
        """
        self.assertEqual(violations(body), [])

    def test_stack_slots_keep_the_taint_of_what_was_stored(self):
        spilled_length = """
            sw a1, 0xc(sp)
            lw a5, 0xc(sp)
            bnez a5, 0x8 <f+0x8>
            ret
            ret
        """
        self.assertEqual(violations(spilled_length), [])
        spilled_secret = spilled_length.replace("a1", "a4")
        self.assertEqual(len(violations(spilled_secret, {"a4"})), 1)
        never_written = """
            lw a5, 0x10(sp)
            bnez a5, 0x6 <f+0x6>
            ret
            ret
        """
        self.assertEqual(len(violations(never_written)), 1)

    def test_taint_flows_around_loops(self):
        # a5 is public on the first pass and loaded data when the back edge brings it round.
        body = """
            li a5, 0x0
            bnez a5, 0xa <f+0xa>
            lw a5, 0x0(a0)
            j 0x2 <f+0x2>
            ret
            ret
        """
        self.assertEqual(len(violations(body)), 1)

    def test_after_a_call_its_results_are_secret(self):
        text = listing("f", """
            auipc ra, 0x0
            jalr 0x100(ra) <g>
            bnez a0, 0x8 <f+0x8>
            ret
            ret
        """) + listing("g", "ret", start=0x100)
        self.assertFalse(passes(text, {"f": set()})[0])

    def test_division_of_secret_data_fails(self):
        secret = """
            lw a5, 0x0(a0)
            remu a0, a5, a1
            ret
        """
        self.assertIn("division", violations(secret)[0][2])
        public = """
            divu a0, a1, a2
            ret
        """
        self.assertEqual(violations(public), [])

    def test_a_call_to_a_division_helper_fails(self):
        text = listing("f", """
            auipc ra, 0x0
            jalr 0x100(ra) <__umoddi3>
            ret
        """) + listing("__umoddi3", "ret", start=0x100)
        ok, out = passes(text, {"f": set()})
        self.assertFalse(ok)
        self.assertIn("division helper __umoddi3", out)

    def test_a_load_or_store_at_a_secret_address_fails(self):
        load = """
            lbu a5, 0x0(a0)
            add a5, a5, a1
            lbu a0, 0x0(a5)
            ret
        """
        self.assertIn("load from a secret address", violations(load)[0][2])
        store = """
            lw a5, 0x0(a0)
            sw a1, 0x4(a5)
            ret
        """
        self.assertIn("store at a secret address", violations(store)[0][2])

    def test_an_indirect_call_fails(self):
        body = """
            jalr a5
            ret
        """
        self.assertIn("indirect", violations(body)[0][2])


class NothingUnchecked(unittest.TestCase):
    """The ways the old check could pass with nothing checked."""

    def test_a_listed_function_missing_from_the_binary_fails(self):
        text = listing("ucrypto::other::h0123456789abcdef", "ret")
        self.assertFalse(passes(text, {"ucrypto::cond_copy": set()})[0])
        text = listing("ucrypto::cond_copy::h0123456789abcdef", "ret")
        self.assertTrue(passes(text, {"ucrypto::cond_copy": set()})[0])

    def test_a_function_without_parsed_instructions_fails(self):
        text = "00000000 <f>:\n\n00000100 <g>:\n     100:      \tret\n"
        ok, out = passes(text, {"f": set()})
        self.assertFalse(ok)
        self.assertIn("no instructions parsed", out)

    def test_a_line_that_is_no_known_instruction_fails(self):
        for odd in ["<unknown>", ".word 0x12345678", "frobnicate a0, a1", "c.bogus a0"]:
            text = listing("f", f"addi a0, a0, 0x1\n{odd}\nret")
            ok, out = passes(text, {"f": set()})
            self.assertFalse(ok, odd)
            self.assertIn("not parsed", out)

    def test_a_branch_whose_target_is_not_an_instruction_fails(self):
        for body in [
            "beqz a1, 0x400 <elsewhere>\nret",
            "beqz a1, 0x3 <f+0x3>\nret",
            "bnez a1, garbage\nret",
            "j 0x999 <nowhere>\nret",
        ]:
            self.assertTrue(violations(body), body)
            self.assertIn("not resolved", violations(body)[0][2])

    def test_calls_are_followed_with_the_callers_secret_arguments(self):
        callee = listing("g", """
            beqz a2, 0x104 <g+0x4>
            ret
            ret
        """, start=0x100)
        caller = listing("f", """
            mv a2, a4
            auipc ra, 0x0
            jalr 0xfe(ra) <g>
            ret
        """)
        ok, out = passes(caller + callee, {"f": {"a4"}})
        self.assertFalse(ok)
        self.assertIn("g (called from f)", out)
        # The same call with a public argument passes.
        self.assertTrue(passes(caller + callee, {"f": set()})[0])

    def test_tail_calls_are_followed(self):
        callee = listing("g", """
            lw a5, 0x0(a0)
            bnez a5, 0x106 <g+0x6>
            ret
            ret
        """, start=0x100)
        for tail in ["auipc t1, 0x0\njr 0xfe(t1) <g>", "j 0x100 <g>"]:
            caller = listing("f", f"addi a0, a0, 0x4\n{tail}")
            ok, out = passes(caller + callee, {"f": set()})
            self.assertFalse(ok, tail)
            self.assertIn("g (called from f)", out)

    def test_a_call_outside_the_elf_fails_unless_listed_as_a_boundary(self):
        caller = listing("f", """
            auipc ra, 0x40000
            jalr 0x354(ra)
            ret
        """)
        rom = "40000354 l       *ABS*\t00000000 .hidden memset\n"
        self.assertFalse(passes(caller, {"f": set()})[0], "unknown target")
        ok, out = passes(rom + caller, {"f": set()})
        self.assertFalse(ok)
        self.assertIn("does not contain", out)
        self.assertTrue(passes(rom + caller, {"f": set()}, {"memset"})[0])
        self.assertTrue(passes(rom + caller, {"f": set()}, {"mem*"})[0])

    def test_a_boundary_needs_a_reason(self):
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write("f a4\nboundary memset\n")
        try:
            with self.assertRaises(SystemExit):
                ct.load_functions(f.name)
        finally:
            os.unlink(f.name)

    def test_a_missing_elf_fails_the_run(self):
        run = subprocess.run(
            [sys.executable, SCRIPT, "/nonexistent/ucrypto-esp32c3.elf"],
            capture_output=True,
            text=True,
        )
        self.assertEqual(run.returncode, 1)
        self.assertIn("no such ELF", run.stdout)


class CompiledFixture(unittest.TestCase):
    """fixture.rs built and linked by rustc for the ESP32-C3's target: what the firmware's build
    sees, with compiler-builtins' division helpers linked in."""

    def test_leaky_functions_fail_and_the_blend_passes(self):
        target = "riscv32imc-unknown-none-elf"
        installed = subprocess.run(
            ["rustc", "--print", "target-libdir", "--target", target],
            capture_output=True,
            text=True,
        )
        if installed.returncode != 0 or not os.path.isdir(installed.stdout.strip()):
            if os.environ.get("CI"):
                self.fail(f"the {target} target is not installed")
            self.skipTest(f"the {target} target is not installed")
        with tempfile.TemporaryDirectory() as tmp:
            elf = os.path.join(tmp, "fixture.elf")
            subprocess.run(
                ["rustc", "--edition", "2021", "--target", target, "--crate-type", "bin",
                 "-C", "opt-level=s", "-C", "panic=abort",
                 "-C", "link-arg=--no-gc-sections", "-C", "link-arg=--entry=ct_fixture_select",
                 "-o", elf, os.path.join(HERE, "fixture.rs")],
                check=True,
            )
            text = ct.disassemble(elf)
        wanted, boundaries = ct.load_functions(os.path.join(HERE, "fixture-functions.txt"))
        verdicts = {}
        for name, secret in wanted.items():
            ok, out = passes(text, {name: secret}, boundaries)
            verdicts[name] = (ok, out)
        self.assertTrue(verdicts["ct_fixture_select"][0], verdicts["ct_fixture_select"][1])
        for leaky, why in [
            ("ct_fixture_branchy_select", "branch on secret data"),
            ("ct_fixture_first_nonzero", "branch on secret data"),
            ("ct_fixture_calls_branchy", "ct_fixture_first_nonzero (called from"),
            ("ct_fixture_u64_remainder", "division helper __umoddi3"),
            ("ct_fixture_divide", "division of secret data"),
            ("ct_fixture_table", "load from a secret address"),
        ]:
            ok, out = verdicts[leaky]
            self.assertFalse(ok, leaky)
            self.assertIn(why, out, leaky)
        self.assertFalse(passes(text, wanted, boundaries)[0])


if __name__ == "__main__":
    unittest.main()
