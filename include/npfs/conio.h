/*
 * conio.h — npfs's console I/O declarations for Linux. Written for npfs.
 * _getch reads one character from the terminal without echo or line buffering (from a
 * non-terminal stdin it reads the next byte); it returns EOF's value at end of input.
 */
#ifndef NPFS_CONIO_H
#define NPFS_CONIO_H

#ifdef __cplusplus
extern "C" {
#endif

int _getch(void);

#ifdef __cplusplus
}
#endif

#endif /* NPFS_CONIO_H */
