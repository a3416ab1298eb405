/*
 * api_www.S - the board's files (www/), built into vagentd.
 *
 * The page, its script and its style ship inside the binary, so the api
 * can never serve a page from another version than its own, and serving
 * them opens no file: there is no path to traverse. Paths are from the
 * top of the tree (make runs there); api_static.c says which URL serves
 * which file. The Makefile makes this object depend on www/.
 */
#define WWW_FILE(sym, file)		\
	.globl sym, sym##_end;		\
	.balign 16;			\
sym:					\
	.incbin file;			\
sym##_end:

	.section .rodata
WWW_FILE(www_board_html, "supervisor/api/www/board.html")
WWW_FILE(www_login_html, "supervisor/api/www/login.html")
WWW_FILE(www_board_css, "supervisor/api/www/board.css")
WWW_FILE(www_board_js, "supervisor/api/www/board.js")

	.section .note.GNU-stack,"",@progbits
